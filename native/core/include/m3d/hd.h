// Portability macros for code shared between the C++ (CPU) path and CUDA kernels.
#pragma once

#if defined(__CUDACC__)
#define M3D_HD __host__ __device__ __forceinline__
#else
#define M3D_HD inline
#endif

#include <cstdint>
