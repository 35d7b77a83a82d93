package bridge

import "tartine/internal/deviceapi"

// This file names the bridge's half of the device API contract (DESIGN.md,
// "Device API"). The wire types, the limits and the signature are
// deviceapi's, shared with the server, so the two cannot drift; the bridge
// still imports no server package (imports_test.go). Verdicts, feedback
// words and badge statuses are deviceapi's constants.

// Device API paths.
const (
	PathTaps   = deviceapi.PathTaps
	PathBadges = deviceapi.PathBadges
)

// APITap is one tap in a POST /api/v1/taps request.
type APITap = deviceapi.Tap

// TapBatch is the body of POST /api/v1/taps.
type TapBatch = deviceapi.TapBatch

// TapDisplay is what the staff screen and a small reader display may show.
type TapDisplay = deviceapi.Display

// TapResult is the server's answer for one tap.
type TapResult = deviceapi.Result

// TapResults is the 200 response of POST /api/v1/taps: one result per tap,
// in request order.
type TapResults = deviceapi.Results

// Badge is one entry of GET /api/v1/badges.
type Badge = deviceapi.Badge

// BadgeDelta is the response of GET /api/v1/badges?since=<cursor>.
type BadgeDelta = deviceapi.BadgeDelta
