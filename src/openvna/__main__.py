from openvna.cli.main import main

main()
