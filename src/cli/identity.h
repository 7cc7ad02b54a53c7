// Who is running a command. In embedded mode: --as USER, else $SLUICE_USER, else the login
// name; when the state directory has a users.yaml, the name must be in it and gets its groups
// from it. Commands ask this interface, so the server mode can answer from API tokens instead.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "env/env.h"

namespace sluice {

struct Principal {
  std::string name;
  std::vector<std::string> groups;
};

class Identity {
 public:
  virtual ~Identity() = default;
  virtual Result<Principal> Current() const = 0;
};

// `as` is the --as flag ("" when not given). The variables, the login name and users.yaml are
// read through `env`, which must outlive the identity.
std::unique_ptr<Identity> NewEmbeddedIdentity(Env& env, const std::string& state_dir,
                                              const std::string& as);

}  // namespace sluice
