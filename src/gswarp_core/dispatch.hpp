// Which instruction-set level the kernels run at: the widest the CPU has, or lower when
// GSWARP_CPU_LEVEL asks (baseline, x86-64-v3, x86-64-v4; the tests force each level the
// machine has and compare the bits).
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels.hpp"

namespace gswarp {

struct Level {
  const char* name;
  bool (*supported)();
  SampleRows grid_sample_2d;
  SampleRows grid_sample_3d;
  AffineRows affine_sample_2d;
  AffineRows affine_sample_3d;
  GridRows affine_grid;
  FlowRows flow_sample;
  BackwardRows backward_coordinates;
  BackwardRows backward_input;
  AntialiasRows antialias;
};

inline bool always() { return true; }

#if GSWARP_X86_LEVELS
inline bool has_v3() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("x86-64-v3");
}
inline bool has_v4() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("x86-64-v4");
}
#endif

// Every level this build has, lowest first.
inline const std::vector<Level>& levels() {
  static const std::vector<Level> all = {
      {"baseline", &always, &baseline::grid_sample_2d, &baseline::grid_sample_3d,
       &baseline::affine_sample_2d, &baseline::affine_sample_3d, &baseline::affine_grid,
       &baseline::flow_sample, &baseline::backward_coordinates,
       &baseline::backward_input, &baseline::antialias},
#if GSWARP_X86_LEVELS
      {"x86-64-v3", &has_v3, &x86_64_v3::grid_sample_2d, &x86_64_v3::grid_sample_3d,
       &x86_64_v3::affine_sample_2d, &x86_64_v3::affine_sample_3d, &x86_64_v3::affine_grid,
       &x86_64_v3::flow_sample, &x86_64_v3::backward_coordinates,
       &x86_64_v3::backward_input, &baseline::antialias},
      {"x86-64-v4", &has_v4, &x86_64_v4::grid_sample_2d, &x86_64_v4::grid_sample_3d,
       &x86_64_v4::affine_sample_2d, &x86_64_v4::affine_sample_3d, &x86_64_v4::affine_grid,
       &x86_64_v4::flow_sample, &x86_64_v4::backward_coordinates,
       &x86_64_v4::backward_input, &baseline::antialias},
#endif
  };
  return all;
}

// The level in use: set by choose_level() (at import: the widest supported, capped by
// GSWARP_CPU_LEVEL), changed by set_level().
inline const Level*& current_level() {
  static const Level* level = nullptr;
  return level;
}

// The widest supported level at or below `cap` (a level's name; empty: no cap). Returns false
// when `cap` names no level of this build.
inline bool set_level(const std::string& cap) {
  const Level* chosen = nullptr;
  bool known = cap.empty();
  for (const Level& level : levels()) {
    if (level.supported()) chosen = &level;
    if (!cap.empty() && cap == level.name) {
      known = true;
      break;
    }
  }
  if (!known) return false;
  current_level() = chosen;
  return true;
}

inline void choose_level() {
  const char* cap = std::getenv("GSWARP_CPU_LEVEL");
  if (!set_level(cap ? cap : "")) set_level("");
}

}  // namespace gswarp
