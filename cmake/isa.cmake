# The EM kernels (consensus/em_kernel_*.cc) are compiled once per instruction
# set and chosen at run time (consensus/em_kernel.cc). Without floating-point
# contraction, so that every variant computes the same bits.
# Call from each directory that compiles them: source properties are per directory.
function(consensusd_isa_sources src)
  set(nofma -ffp-contract=off)
  set_source_files_properties(${src}/consensus/em_kernel_baseline.cc PROPERTIES COMPILE_OPTIONS "${nofma}")
  set_source_files_properties(${src}/consensus/em_kernel_avx2.cc PROPERTIES
                              COMPILE_OPTIONS "-mavx2;-mfma;${nofma}")
  set_source_files_properties(${src}/consensus/em_kernel_avx512.cc PROPERTIES
                              COMPILE_OPTIONS "-mavx512f;-mavx512vl;-mavx512dq;-mavx2;-mfma;${nofma}")
  # The rest of the EM arithmetic on Eigen arrays (consensus/class_array.h): the
  # worker likelihood and the streaming update, one baseline build, no contraction
  # either, so that a build for a wider -march keeps the bits.
  set_source_files_properties(${src}/consensus/parameters.cc ${src}/consensus/streaming_model.cc
                              PROPERTIES COMPILE_OPTIONS "${nofma}")
endfunction()
