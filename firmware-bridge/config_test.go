package bridge

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadExampleConfig(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("bridge.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bridge.toml")
	src := strings.Replace(string(b), "/etc/tartine/bridge.secret", secret, 1)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Secret != "0123456789abcdef0123" || c.Offline.Deadline != 300*time.Millisecond || c.Uplink.MaxBackoff != 30*time.Second {
		t.Errorf("loaded %+v", c)
	}
	if len(c.Readers) != 3 || c.Readers[1].VID != "1a86" || c.Readers[0].Tech != "iso14443a" {
		t.Errorf("readers %+v", c.Readers)
	}
}

func TestLoadConfigUnknownKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.toml")
	os.WriteFile(path, []byte("device_id = \"x\"\ndebounse = \"1s\"\n"), 0o600)
	_, err := LoadConfig(path, nil)
	if err == nil || !strings.Contains(err.Error(), "debounse") {
		t.Fatalf("err = %v, want the unknown key named", err)
	}
}

func TestReaderDefaults(t *testing.T) {
	c := validConfig()
	c.Readers = []ReaderConfig{
		{Name: "w", Driver: "wiegand"},
		{Name: "h", Driver: "line-hex"},
		{Name: "d", Driver: "line-dec", Tech: "em4100"},
		{Name: "d2", Driver: "line-dec"},
		{Name: "h2", Driver: "line-hex", Lengths: []int{8}},
	}
	c.SetDefaults()
	want := []struct {
		tech    string
		lengths string
	}{{"wiegand", "[]"}, {"iso14443a", "[8 10 14 20]"}, {"em4100", "[10]"}, {"iso14443a", "[]"}, {"iso14443a", "[8]"}}
	for i, w := range want {
		r := c.Readers[i]
		if r.Tech != w.tech || fmt.Sprint(r.Lengths) != w.lengths || r.HeartbeatTimeout != DefaultHeartbeatTimeout {
			t.Errorf("reader %s: tech %q lengths %v heartbeat %s, want %q %s %s", r.Name, r.Tech, r.Lengths, r.HeartbeatTimeout, w.tech, w.lengths, DefaultHeartbeatTimeout)
		}
	}
}

func validConfig() Config {
	c := Config{
		DeviceID: "dev-1", Secret: "0123456789abcdef0123", ServerURL: "http://127.0.0.1:1",
		DataDir: "/tmp/x", StatusAddr: "off",
		Readers: []ReaderConfig{{Name: "r1", Station: "canteen-1", Driver: "tartine", Path: "/dev/null"}},
	}
	c.SetDefaults()
	return c
}

func TestValidateNamesField(t *testing.T) {
	tests := []struct {
		field  string
		change func(*Config)
	}{
		{"device_id", func(c *Config) { c.DeviceID = "" }},
		{"device_id", func(c *Config) { c.DeviceID = "a,b" }},
		{"secret", func(c *Config) { c.Secret = "short" }},
		{"server_url", func(c *Config) { c.ServerURL = "ftp://x" }},
		{"data_dir", func(c *Config) { c.DataDir = "" }},
		{"status_addr", func(c *Config) { c.StatusAddr = "0.0.0.0:8377" }},
		{"uplink.batch_size", func(c *Config) { c.Uplink.BatchSize = 0 }},
		{"uplink.batch_size", func(c *Config) { c.Uplink.BatchSize = MaxBatch + 1 }},
		{"reader[0].lengths", func(c *Config) { c.Readers[0].Lengths = []int{10} }}, // not a line reader
		{"reader[0].heartbeat_timeout", func(c *Config) { c.Readers[0].HeartbeatTimeout = -time.Second }},
		{"uplink.max_backoff", func(c *Config) { c.Uplink.MaxBackoff = time.Millisecond }},
		{"offline.deadline", func(c *Config) { c.Offline.Deadline = time.Minute }},
		{"offline.unknown", func(c *Config) { c.Offline.Unknown = "maybe" }},
		{"reader", func(c *Config) { c.Readers = nil }},
		{"reader[0].station", func(c *Config) { c.Readers[0].Station = "" }},
		{"reader[0].driver", func(c *Config) { c.Readers[0].Driver = "acme" }},
		{"reader[0].path", func(c *Config) { c.Readers[0].Path = "" }},
		{"reader[1].name", func(c *Config) { c.Readers = append(c.Readers, c.Readers[0]) }},
		{"reader[0].tech", func(c *Config) { c.Readers[0].Tech = "nfc" }},
	}
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate() = %v, want a FieldError for %s", err, tt.field)
			}
		})
	}
}

// FuzzLoadConfig: any file content gives a config or an error, never a
// panic, and an accepted config always validates.
func FuzzLoadConfig(f *testing.F) {
	seed, err := os.ReadFile("testdata/seed.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("device_id = 1\n[[reader]]\nname = \"\"\n"))
	f.Add([]byte("debounce = \"-5s\"\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(path, func(string) string { return "" })
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("LoadConfig accepted a config that does not validate: %v", verr)
			}
		}
	})
}
