// Package secrets encrypts tenant credentials at rest with AES-256-GCM. The
// key comes from configuration (RESTORED_SECRET_KEY); it never touches the
// database, so a copy of the database alone reveals no secret.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// version prefixes every sealed value, so the format (or the key, see
// Rotate) can change without guessing what an old value is.
const version byte = 1

// Box seals and opens secrets with one key.
type Box struct{ aead cipher.AEAD }

// ErrNoKey is returned when no key is configured.
var ErrNoKey = errors.New("no secret key configured: set RESTORED_SECRET_KEY")

// New returns a box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) == 0 {
		return nil, ErrNoKey
	}
	if len(key) != 32 {
		return nil, errors.New("secret key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext; aad binds the ciphertext to its owner (the
// environment id), so a sealed secret copied to another row does not open.
func (b *Box) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, plaintext, aad), nil
}

// Open decrypts what Seal produced with the same aad.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != version {
		return nil, errors.New("sealed secret has an unknown format")
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, errors.New("sealed secret does not open with this key")
	}
	return pt, nil
}
