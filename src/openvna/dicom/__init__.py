"""Pure DICOM model code: bytes and values in, values out; no HTTP, no SQL, no archive files."""
