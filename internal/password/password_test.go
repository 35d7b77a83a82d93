package password

import (
	"errors"
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q: unexpected prefix", h)
	}
	if err := Verify("correct horse", h); err != nil {
		t.Errorf("Verify(right) = %v, want nil", err)
	}
	if err := Verify("correct hors", h); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(wrong) = %v, want ErrMismatch", err)
	}
	h2, _ := Hash("correct horse")
	if h == h2 {
		t.Error("two hashes of the same password are equal: salt not random")
	}
	if NeedsRehash(h) {
		t.Error("NeedsRehash(default hash) = true")
	}
}

func TestVerifyOtherParams(t *testing.T) {
	h, err := HashWith("pw", Params{Memory: 8192, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify("pw", h); err != nil {
		t.Errorf("Verify = %v", err)
	}
	if !NeedsRehash(h) {
		t.Error("NeedsRehash(other params) = false")
	}
}

func TestMalformed(t *testing.T) {
	for _, h := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=65536,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=18$m=65536,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=65536,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=65536,t=1,x=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=65536,t=1,p=2$!!$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=65536,t=1,p=2$c2FsdHNhbHQ$short",
	} {
		if err := Verify("pw", h); !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, want ErrMalformed", h, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=65536,t=1,p=2$$")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, h string) {
		// Keep the fuzzer fast: skip costly but valid parameter sets.
		if strings.Contains(h, "m=") && !strings.Contains(h, "m=8,") {
			return
		}
		_ = Verify("pw", h)
	})
}
