from covguard.cli import main

main()
