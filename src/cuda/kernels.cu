// gswarp's CUDA kernels, one translation unit: the sampling kernels (sampling.cuh) and the
// backward passes (backward.cuh), templates over the C++ core's per-point headers
// (src/gswarp_core/*.hpp) -- the CPU kernels' own functions, written once.
//
// Compiled three ways from this one text:
// - by NVRTC through CuPy at first use (gswarp/engine/cuda_core.py; CuPy caches the result on
//   disk), one specialization per name expression such as
//   "gswarp::cuda::grid_sample<2, 0, 8, 8>" (spatial dims, mode, input dtype code, grid
//   dtype code: kernels.hpp's Kind);
// - by NVRTC in the tests, as CuPy compiles it, for the oldest and newest architectures CUDA
//   13 targets (tests/test_cuda_core.py; a compile error or warning fails them);
// - by the host C++ compiler with -DGSWARP_CUDA_HOST (host_emulation.hpp): the kernels' bodies
//   run on the CPU, every (block, thread) of the launch in turn, and the tests compare them
//   with the CPU engine (tests/cuda_host.py, tests/test_cuda_core.py).
//
// The arguments are kernels.hpp's structs, passed by value (bytes packed in Python and handed
// to cuLaunchKernel), and the total of points; each thread walks its points with a grid-stride
// loop in 64-bit indices (no size limit). Built with -fmad=false, as the CPU kernels are built
// with -ffp-contract=off: every multiply and add is rounded on its own and fma is called where
// the CPU calls it, so each point has the CPU engine's bits -- except grad_input, whose terms
// are added by atomics in whatever order the threads reach them.
#if defined(GSWARP_CUDA_HOST)
#include "host_emulation.hpp"
#endif

#include "backward.cuh"
#include "sampling.cuh"

#if defined(GSWARP_CUDA_HOST)
#include "host_registry.hpp"
#endif
