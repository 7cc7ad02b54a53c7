// GET /api/v1/notifications (docs/api.md, "Notifications"): the outbox's deliveries, newest
// first, for operators and admins (a hook's URL and headers are never shown: they hold secrets).
#include "cli/notifications.h"
#include "server/api.h"
#include "store/store.h"

namespace sluice {

namespace {

ApiResponse ListNotificationsRoute(const ApiContext& ctx, const ApiRequest& req) {
  auto limit = QueryInt(req, "limit", 100, 1000);
  if (!limit) return BadQueryInt("limit");
  const std::string failed = req.Query("failed", "false");
  if (failed != "true" && failed != "false") {
    return ErrorResponse(400, "failed must be true or false");
  }
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto rows = (*store)->ListNotifications(failed == "true", static_cast<int>(*limit));
  if (!rows) return FromError(rows.error());
  return Json(Value(ValueMap{{"items", NotificationsJson(*rows)}}));
}

}  // namespace

void AddNotificationRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"GET", "/api/v1/notifications", true, Action::kOperate,
              [c](const ApiRequest& r) { return ListNotificationsRoute(*c, r); }});
}

}  // namespace sluice
