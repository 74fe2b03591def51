// Tests of the secret box (secrets.go): keys New accepts and refuses, that
// Seal and Open round trip, that a sealed value opens only with the same key
// and aad and intact bytes and format version, that each Seal uses a fresh
// nonce, and that no error message repeats the secret.
package secrets_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/platform/secrets"
)

// plaintext is the secret of these tests, distinctive enough to find in any
// error message that leaks it.
const plaintext = "Zq8~rEsToReD-SeCrEtS-TeSt-0123456789"

// mustBox returns a box for a 32-byte key made of b.
func mustBox(tb testing.TB, b byte) *secrets.Box {
	tb.Helper()
	box, err := secrets.New(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		tb.Fatalf("secrets.New: %v", err)
	}
	return box
}

// mustSeal seals plaintext under aad.
func mustSeal(tb testing.TB, box *secrets.Box, plaintext, aad string) []byte {
	tb.Helper()
	sealed, err := box.Seal([]byte(plaintext), []byte(aad))
	if err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return sealed
}

// TestNew checks which keys New accepts.
func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		wantErr bool
		// wantNoKey says the error must be ErrNoKey.
		wantNoKey bool
	}{
		{name: "nil", key: nil, wantErr: true, wantNoKey: true},
		{name: "empty", key: []byte{}, wantErr: true, wantNoKey: true},
		{name: "1 byte", key: []byte{1}, wantErr: true},
		{name: "16 bytes (AES-128)", key: make([]byte, 16), wantErr: true},
		{name: "24 bytes (AES-192)", key: make([]byte, 24), wantErr: true},
		{name: "31 bytes", key: make([]byte, 31), wantErr: true},
		{name: "33 bytes", key: make([]byte, 33), wantErr: true},
		{name: "64 bytes", key: make([]byte, 64), wantErr: true},
		{name: "32 bytes", key: make([]byte, 32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			box, err := secrets.New(tt.key)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New(%d bytes) error = %v, want error %v", len(tt.key), err, tt.wantErr)
			}
			if errors.Is(err, secrets.ErrNoKey) != tt.wantNoKey {
				t.Errorf("New(%d bytes) error = %v; errors.Is(err, ErrNoKey) = %v, want %v", len(tt.key), err, !tt.wantNoKey, tt.wantNoKey)
			}
			if (box == nil) != tt.wantErr {
				t.Errorf("New(%d bytes) box = %v, want a box only without error", len(tt.key), box)
			}
		})
	}
}

// TestRoundTrip checks that Open returns what Seal sealed, for empty, short,
// binary and long plaintexts and aads.
func TestRoundTrip(t *testing.T) {
	box := mustBox(t, 7)
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"secret", []byte(plaintext), []byte("env_01")},
		{"empty plaintext", []byte{}, []byte("env_01")},
		{"no aad", []byte(plaintext), nil},
		{"binary", []byte{0, 1, 2, 255, 0}, []byte{0}},
		{"long", bytes.Repeat([]byte("x"), 1<<16), []byte("env_02")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := box.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if len(tt.plaintext) > 0 && bytes.Contains(sealed, tt.plaintext) {
				t.Error("sealed value contains the plaintext")
			}
			got, err := box.Open(sealed, tt.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if diff := cmp.Diff(tt.plaintext, got, cmp.Comparer(bytes.Equal)); diff != "" {
				t.Errorf("Open(Seal(p)) (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOpenFails checks every way a sealed value must fail to open, and that
// no failure's message repeats the secret.
func TestOpenFails(t *testing.T) {
	box := mustBox(t, 7)
	sealed := mustSeal(t, box, plaintext, "env_01")
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		box    *secrets.Box
		sealed []byte
		aad    string
	}{
		{"wrong aad", box, sealed, "env_02"},
		{"empty aad", box, sealed, ""},
		{"wrong key", mustBox(t, 8), sealed, "env_01"},
		{"unknown version", box, flip(0), "env_01"},
		{"version zero", box, append([]byte{0}, sealed[1:]...), "env_01"},
		{"tampered nonce", box, flip(1), "env_01"},
		{"tampered ciphertext", box, flip(14), "env_01"},
		{"tampered tag", box, flip(-1), "env_01"},
		{"truncated", box, sealed[:len(sealed)-1], "env_01"},
		{"only version and nonce", box, sealed[:13], "env_01"},
		{"too short for a nonce", box, sealed[:5], "env_01"},
		{"empty", box, nil, "env_01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.sealed, []byte(tt.aad))
			if err == nil {
				t.Fatalf("Open succeeded with %q, want an error", got)
			}
			if got != nil {
				t.Errorf("Open returned %q with its error, want nil", got)
			}
			if strings.Contains(err.Error(), plaintext) || strings.Contains(err.Error(), "SeCrEtS") {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
	// The original still opens: the cases above tampered with copies.
	if _, err := box.Open(sealed, []byte("env_01")); err != nil {
		t.Errorf("untampered value no longer opens: %v", err)
	}
}

// TestSealNonce checks that sealing the same plaintext twice gives two
// different values (a fresh random nonce each time) that both open.
func TestSealNonce(t *testing.T) {
	box := mustBox(t, 7)
	a := mustSeal(t, box, plaintext, "env_01")
	b := mustSeal(t, box, plaintext, "env_01")
	if bytes.Equal(a, b) {
		t.Fatal("two Seals of the same plaintext are identical: the nonce is reused")
	}
	// Version byte, 12-byte nonce: the nonces themselves must differ.
	if bytes.Equal(a[1:13], b[1:13]) {
		t.Error("two Seals used the same nonce")
	}
	for i, s := range [][]byte{a, b} {
		got, err := box.Open(s, []byte("env_01"))
		if err != nil || string(got) != plaintext {
			t.Errorf("seal %d: Open = %q, %v; want the plaintext", i, got, err)
		}
	}
}
