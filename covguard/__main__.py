from covguard.cli import entry

entry()
