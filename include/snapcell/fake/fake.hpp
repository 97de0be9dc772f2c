#pragma once
// The fake world and every fake policy: what the harness, the fuzzers and
// anyone who wants to try snapcell without root include.

#include "snapcell/fake/behaviours.hpp"
#include "snapcell/fake/fault_plan.hpp"
#include "snapcell/fake/journal.hpp"
#include "snapcell/fake/mounter.hpp"
#include "snapcell/fake/supervisors.hpp"
#include "snapcell/fake/volumes.hpp"
#include "snapcell/fake/world.hpp"
