// Package ids makes the opaque, globally unique identifiers every stored object
// carries. An id is "<prefix>_<26 chars>": the prefix names the object type (so a
// Relay node id can be resolved without a lookup table) and the rest is a
// time-ordered random value (so ids sort roughly by creation, which keeps cursor
// pagination stable and index inserts local).
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, so ids read aloud
// or typed by hand are not misread.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// New returns a new id with the given type prefix.
func New(prefix string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("ids: no randomness: " + err.Error())
	}
	var sb strings.Builder
	sb.Grow(len(prefix) + 27)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	// 128 bits as 26 base32 digits, most significant first.
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	sb.Write(out[:])
	return sb.String()
}

// Prefix returns the type prefix of id, or "" when id has none.
func Prefix(id string) string {
	i := strings.LastIndexByte(id, '_')
	if i <= 0 || len(id)-i-1 != 26 {
		return ""
	}
	return id[:i]
}

// Type prefixes, one per stored object type.
const (
	Workspace      = "ws"
	User           = "usr"
	Membership     = "mem"
	APIToken       = "tok"
	Environment    = "env"
	Policy         = "pol"
	PolicyVersion  = "pv"
	BackupSet      = "bs"
	BackupItem     = "bi"
	RestoreRun     = "rr"
	RestoreRunItem = "rri"
	OperationRun   = "op"
	AuditLog       = "aud"
	Notification   = "ntf"
)
