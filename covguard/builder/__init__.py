"""The build stage: the firmware's own build with covguard's compiler wrapper (test build),
the product build with its call graph, and the toolchain profiles (:mod:`covguard.builder.toolchains`)."""
