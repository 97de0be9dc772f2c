#pragma once
// The core: the Session lifecycle over three policies, its guards, and reap.

#include "snapcell/error.hpp"
#include "snapcell/journal.hpp"
#include "snapcell/names.hpp"
#include "snapcell/ownership.hpp"
#include "snapcell/policies.hpp"
#include "snapcell/reap.hpp"
#include "snapcell/report.hpp"
#include "snapcell/session.hpp"
#include "snapcell/signal.hpp"
#include "snapcell/unwind.hpp"
