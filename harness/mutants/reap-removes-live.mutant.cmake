# Reap that does not hold the session's lock before acting (mock clean once
# killed another mock's running build this way).
# caught by: I6 in reap leaves a live session alone and cleans it once its controller died*
mutate(snapcell/reap.hpp [=[
    if (!*adopted) {
      result.live.push_back(name);
      continue;
    }
]=] [=[
    if (!*adopted) result.live.push_back(name);
]=])
