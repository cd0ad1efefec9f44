"""The DIMSE door (PS3.7, PS3.8): classic DICOM networking over the archive services.

A thin adapter, as ``web/dicomweb`` is for DICOMweb: C-STORE hands what the peer sent to the same
store batch as STOW-RS, C-FIND builds the same ``Query`` as QIDO-RS, C-MOVE and C-GET send the
stored files as they lie on disk. pynetdicom speaks the protocol; ``scp`` builds its application
entity, ``worker`` runs it in the processes of ``openvna serve``'s supervisor.
"""
