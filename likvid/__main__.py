from likvid.cli.main import main

main()
