"""The run stage: test executables, test frameworks and their output protocols, configured
invocations (CTest, custom runners), the Python suite, shards and their merge, several runs in one."""
