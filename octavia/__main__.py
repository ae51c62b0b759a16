from octavia.cli.app import main

main()
