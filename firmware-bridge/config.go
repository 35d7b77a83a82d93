package bridge

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"tartine/internal/deviceapi"
)

// Config is the bridge configuration (bridge.example.toml documents every
// field).
type Config struct {
	DeviceID   string         `toml:"device_id"`   // device id enrolled on the server
	Secret     string         `toml:"secret"`      // device secret (or SecretFile)
	SecretFile string         `toml:"secret_file"` // file holding the secret
	ServerURL  string         `toml:"server_url"`  // e.g. https://tartine.example
	DataDir    string         `toml:"data_dir"`    // outbox database directory
	StatusAddr string         `toml:"status_addr"` // loopback address of /status and /metrics; "off" disables
	Debounce   time.Duration  `toml:"debounce"`    // same badge on the same reader within this window is one tap
	Uplink     UplinkConfig   `toml:"uplink"`
	Offline    OfflineConfig  `toml:"offline"`
	Readers    []ReaderConfig `toml:"reader"`
}

// UplinkConfig tunes the sending of taps.
type UplinkConfig struct {
	BatchSize      int           `toml:"batch_size"`      // taps per request (default and at most MaxBatch)
	MinBackoff     time.Duration `toml:"min_backoff"`     // first retry delay (default 200ms)
	MaxBackoff     time.Duration `toml:"max_backoff"`     // retry delay cap (default 30s)
	RequestTimeout time.Duration `toml:"request_timeout"` // per request (default 10s)
}

// OfflineConfig sets how the bridge decides when the server is slow or away.
type OfflineConfig struct {
	Deadline     time.Duration `toml:"deadline"`      // wait this long for the server's verdict (default 300ms)
	Unknown      string        `toml:"unknown"`       // feedback for a badge not in the cache: warn (default), ok or deny
	BadgeRefresh time.Duration `toml:"badge_refresh"` // badge cache refresh period (default 1m)
}

// ReaderConfig is one serial reader.
type ReaderConfig struct {
	Name    string `toml:"name"`    // unique, for logs and status
	Station string `toml:"station"` // station code configured on the server
	// Driver is the reader family: tartine, rdm6300, id12la, em18, pn532,
	// line-hex, line-dec, wiegand.
	Driver string `toml:"driver"`
	Path   string `toml:"path"`   // /dev/serial/by-id/… or /dev/ttyACM0
	VID    string `toml:"vid"`    // or USB vendor id (hex)
	PID    string `toml:"pid"`    // and product id (hex)
	Serial string `toml:"serial"` // optional USB serial number
	Baud   int    `toml:"baud"`   // 0: the driver's default
	// Tech reported by line readers: default wiegand for the wiegand
	// driver, iso14443a for line-hex and line-dec.
	Tech string `toml:"tech"`
	// Line reader options.
	Prefix  string `toml:"prefix"`
	Suffix  string `toml:"suffix"`
	Reverse bool   `toml:"reverse"`
	// Lengths are the accepted numbers of digits of a line reader's id
	// (after prefix and suffix). A line of another length is never a tap.
	// Defaults: line-hex 8, 10, 14 and 20 (the ids the server accepts for
	// iso14443a and em4100), line-dec with tech em4100 10; otherwise any.
	Lengths []int `toml:"lengths"`
	// HeartbeatTimeout: a tartine reader that sent nothing, not even its
	// heartbeat (about once a second), for this long is shown as silent,
	// not connected (default 5s).
	HeartbeatTimeout time.Duration `toml:"heartbeat_timeout"`
}

// Driver kinds.
var driverKinds = []string{"tartine", "rdm6300", "id12la", "em18", "pn532", "line-hex", "line-dec", "wiegand"}

// MaxBatch is the largest number of taps the server accepts in one POST
// /api/v1/taps (deviceapi.MaxBatch): uplink.batch_size may not exceed it.
const MaxBatch = deviceapi.MaxBatch

// Defaults used when a field is zero.
const (
	DefaultStatusAddr       = "127.0.0.1:8377"
	DefaultDebounce         = 2 * time.Second
	DefaultBatchSize        = MaxBatch
	DefaultHeartbeatTimeout = 5 * time.Second
	DefaultMinBackoff       = 200 * time.Millisecond
	DefaultMaxBackoff       = 30 * time.Second
	DefaultRequestTimeout   = 10 * time.Second
	DefaultDeadline         = 300 * time.Millisecond
	DefaultBadgeRefresh     = time.Minute
)

// FieldError is one configuration problem.
type FieldError struct {
	Field   string // e.g. "reader[1].station"
	Problem string
}

func (e *FieldError) Error() string { return "config: " + e.Field + ": " + e.Problem }

// SecretEnv is the environment variable that, when set, overrides the
// configured secret.
const SecretEnv = "TARTINE_BRIDGE_SECRET"

// LoadConfig reads a TOML file, applies defaults and validates it. Unknown
// keys are errors (a typo must not silently fall back to a default). getenv
// (nil: no environment) supplies TARTINE_BRIDGE_SECRET.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	var c Config
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	if getenv != nil && getenv(SecretEnv) != "" {
		c.Secret = getenv(SecretEnv)
	}
	if c.Secret == "" && c.SecretFile != "" {
		b, err := os.ReadFile(c.SecretFile)
		if err != nil {
			return Config{}, fmt.Errorf("config %s: secret_file: %w", path, err)
		}
		c.Secret = strings.TrimSpace(string(b))
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.StatusAddr == "" {
		c.StatusAddr = DefaultStatusAddr
	}
	if c.Debounce == 0 {
		c.Debounce = DefaultDebounce
	}
	u := &c.Uplink
	if u.BatchSize == 0 {
		u.BatchSize = DefaultBatchSize
	}
	if u.MinBackoff == 0 {
		u.MinBackoff = DefaultMinBackoff
	}
	if u.MaxBackoff == 0 {
		u.MaxBackoff = DefaultMaxBackoff
	}
	if u.RequestTimeout == 0 {
		u.RequestTimeout = DefaultRequestTimeout
	}
	o := &c.Offline
	if o.Deadline == 0 {
		o.Deadline = DefaultDeadline
	}
	if o.Unknown == "" {
		o.Unknown = deviceapi.FeedbackWarn
	}
	if o.BadgeRefresh == 0 {
		o.BadgeRefresh = DefaultBadgeRefresh
	}
	for i := range c.Readers {
		r := &c.Readers[i]
		if r.Tech == "" {
			r.Tech = "iso14443a"
			if r.Driver == "wiegand" {
				r.Tech = "wiegand"
			}
		}
		if r.Lengths == nil {
			switch {
			case r.Driver == "line-hex" && r.Tech != "wiegand":
				r.Lengths = []int{8, 10, 14, 20}
			case r.Driver == "line-dec" && r.Tech == "em4100":
				r.Lengths = []int{10}
			}
		}
		if r.HeartbeatTimeout == 0 {
			r.HeartbeatTimeout = DefaultHeartbeatTimeout
		}
	}
}

// Validate reports every problem, each as a *FieldError naming the field,
// joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if c.DeviceID == "" {
		bad("device_id", "required (the device id enrolled on the server)")
	} else if strings.ContainsAny(c.DeviceID, ", =\t\n") {
		bad("device_id", "%q must not contain spaces, commas or '='", c.DeviceID)
	}
	if c.Secret == "" {
		bad("secret", "required (set secret, secret_file or TARTINE_BRIDGE_SECRET)")
	} else if len(c.Secret) < 16 {
		bad("secret", "too short (%d characters, want at least 16)", len(c.Secret))
	}
	if u, err := url.Parse(c.ServerURL); c.ServerURL == "" {
		bad("server_url", "required (e.g. https://tartine.example)")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("server_url", "%q is not an http(s)://host[:port] URL", c.ServerURL)
	}
	if c.DataDir == "" {
		bad("data_dir", "required (directory for the outbox database)")
	}
	if c.StatusAddr != "off" {
		host, _, err := net.SplitHostPort(c.StatusAddr)
		if err != nil {
			bad("status_addr", "%q is not host:port: %v", c.StatusAddr, err)
		} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			bad("status_addr", "%q must be a loopback address (the status page has no authentication)", c.StatusAddr)
		}
	}
	if c.Debounce < 0 {
		bad("debounce", "must not be negative")
	}
	if c.Uplink.BatchSize < 1 || c.Uplink.BatchSize > MaxBatch {
		bad("uplink.batch_size", "%d out of range 1..%d (the server refuses more than %d taps per request)", c.Uplink.BatchSize, MaxBatch, MaxBatch)
	}
	if c.Uplink.MinBackoff <= 0 || c.Uplink.MaxBackoff < c.Uplink.MinBackoff {
		bad("uplink.max_backoff", "must be ≥ uplink.min_backoff > 0 (got %s and %s)", c.Uplink.MinBackoff, c.Uplink.MaxBackoff)
	}
	if c.Uplink.RequestTimeout <= 0 {
		bad("uplink.request_timeout", "must be positive")
	}
	if c.Offline.Deadline <= 0 || c.Offline.Deadline > 5*time.Second {
		bad("offline.deadline", "%s out of range (0, 5s]", c.Offline.Deadline)
	}
	switch c.Offline.Unknown {
	case deviceapi.FeedbackOK, deviceapi.FeedbackWarn, deviceapi.FeedbackDeny:
	default:
		bad("offline.unknown", "%q: want ok, warn or deny", c.Offline.Unknown)
	}
	if c.Offline.BadgeRefresh < time.Second {
		bad("offline.badge_refresh", "%s is too short (at least 1s)", c.Offline.BadgeRefresh)
	}
	if len(c.Readers) == 0 {
		bad("reader", "at least one [[reader]] is required")
	}
	names := map[string]bool{}
	for i, r := range c.Readers {
		f := func(name string) string { return fmt.Sprintf("reader[%d].%s", i, name) }
		if r.Name == "" {
			bad(f("name"), "required")
		} else if names[r.Name] {
			bad(f("name"), "%q is used by another reader", r.Name)
		}
		names[r.Name] = true
		if r.Station == "" {
			bad(f("station"), "required (the station code configured on the server)")
		}
		if !contains(driverKinds, r.Driver) {
			bad(f("driver"), "%q: want one of %s", r.Driver, strings.Join(driverKinds, ", "))
		}
		if r.Path == "" && (r.VID == "" || r.PID == "") {
			bad(f("path"), "set path, or both vid and pid")
		}
		if r.Path != "" && r.VID != "" {
			bad(f("vid"), "set either path or vid/pid, not both")
		}
		if r.Baud < 0 {
			bad(f("baud"), "must not be negative")
		}
		switch r.Tech {
		case "em4100", "iso14443a", "wiegand", "qr", "manual":
		default:
			bad(f("tech"), "%q: want em4100, iso14443a, wiegand, qr or manual", r.Tech)
		}
		for _, n := range r.Lengths {
			if n < 1 || n > 64 {
				bad(f("lengths"), "%d out of range 1..64", n)
				break
			}
		}
		if len(r.Lengths) > 0 && !strings.HasPrefix(r.Driver, "line-") && r.Driver != "wiegand" {
			bad(f("lengths"), "only for line-hex, line-dec and wiegand readers")
		}
		if r.HeartbeatTimeout < 0 {
			bad(f("heartbeat_timeout"), "must not be negative")
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
