package gorillaws

import (
	"encoding/json"
	"reflect"
	"testing"
)

// gqlgenMessage has the shape of gqlgen's protocol messages (both protocols).
type gqlgenMessage struct {
	Payload json.RawMessage `json:"payload,omitempty"`
	ID      string          `json:"id,omitempty"`
	Type    messageType     `json:"type"`
	noOp    bool
}

type messageType string

// TestEncodeMatchesEncodingJSON: the fast path writes what encoding/json
// would, for every shape gqlgen sends, and strings needing escapes.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	for _, m := range []*gqlgenMessage{
		{Payload: json.RawMessage(`{"data":{"a":1}}`), ID: "1", Type: "next"},
		{Type: "connection_ack", noOp: false}, // unexported fields are not encoded
		{ID: "7", Type: "complete"},
		{Payload: json.RawMessage(`[{"message":"x"}]`), ID: `q"uo\te<&>`, Type: "error"},
		{Payload: json.RawMessage(`{}`), ID: "ünï\n", Type: "data"},
	} {
		got, typ, id, err := encode(m)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(m)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%+v: wrote invalid JSON %s", m, got)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) || typ != string(m.Type) || id != m.ID {
			t.Errorf("%+v: got %s (%q, %q), want %s", m, got, typ, id, want)
		}
	}
}

// TestEncodeFallsBack: a value of any other shape goes through
// encoding/json, and its type and id are still read.
func TestEncodeFallsBack(t *testing.T) {
	type extra struct {
		Payload json.RawMessage `json:"payload,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		More    int
	}
	for _, v := range []any{
		&extra{ID: "2", Type: "error", More: 3},
		map[string]string{"type": "error", "id": "2", "More": "3"},
	} {
		got, typ, id, err := encode(v)
		if err != nil || typ != "error" || id != "2" {
			t.Fatalf("%T: %s %q %q %v", v, got, typ, id, err)
		}
		var m map[string]any
		if json.Unmarshal(got, &m) != nil || m["More"] == nil {
			t.Errorf("%T: lost a field: %s", v, got)
		}
	}
}
