# A name from a coarse source (a timestamp, a pid) and a claim that takes
# "already exists" for "mine": two sessions end up sharing a name.
# caught by: I5 in two sessions whose nonces collide never share a name*
mutate(snapcell/session.hpp [=[session_name(config_.prefix, nonce_())]=] [=[session_name(config_.prefix, nonce_() % 4)]=])
mutate(snapcell/session.hpp [=[
      if (claimed) {
]=] [=[
      if (claimed || claimed.code() == EEXIST) {
]=])
