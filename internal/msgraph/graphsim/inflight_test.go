package graphsim_test

import (
	"testing"
	"time"

	"github.com/restored/restored/internal/msgraph/graphsim"
)

// TestMaxInFlight: overlapping writes count together; one that begins
// exactly when another is answered does not overlap it.
func TestMaxInFlight(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	w := func(from, to int) graphsim.Write { return graphsim.Write{Started: at(from), At: at(to)} }
	tests := []struct {
		name string
		ws   []graphsim.Write
		want int
	}{
		{"none", nil, 0},
		{"one after another", []graphsim.Write{w(0, 10), w(10, 20), w(20, 30)}, 1},
		{"three overlap", []graphsim.Write{w(0, 10), w(5, 15), w(9, 12), w(20, 30)}, 3},
		{"nested", []graphsim.Write{w(0, 100), w(10, 20), w(30, 40)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := graphsim.MaxInFlight(tt.ws); got != tt.want {
				t.Errorf("MaxInFlight = %d, want %d", got, tt.want)
			}
		})
	}
}
