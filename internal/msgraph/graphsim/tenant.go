package graphsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/restored/restored/internal/intune"
)

// Tenant is one simulated Intune tenant: its objects, groups, app
// credentials, granted permissions, faults and logs. It is safe for
// concurrent use.
type Tenant struct {
	s  *Server
	id string

	mu       sync.Mutex
	secrets  map[string]string // client id → secret
	roles    []string          // roles of tokens issued from now on
	faults   Faults
	rng      *mrand.Rand // random faults, seeded by Faults.Seed
	lim      limiter
	stores   map[string]*store // by type key
	groups   *store
	admx     *store // categories of imported ADMX files, with their definitions
	seq      int64  // insertion order of every object, for stable listing
	writes   []Write
	requests int
}

// Write is one write request (POST, PATCH, PUT or DELETE, including those
// inside a $batch) as the tenant saw it, whatever its outcome.
type Write struct {
	Method string
	// Path is below the version root without query, e.g.
	// "deviceManagement/deviceConfigurations/{id}/assign".
	Path   string
	Status int
	// Started is when the request arrived (before any injected latency),
	// At when its answer was ready: a write is in flight between the two,
	// so the log shows how many a client had in flight at once (see
	// MaxInFlight) and which finished before another began.
	Started time.Time
	At      time.Time
}

// MaxInFlight returns the most writes of ws in flight at one instant (by
// Started and At; one that began exactly when another ended does not
// overlap it).
func MaxInFlight(ws []Write) int {
	type edge struct {
		at    time.Time
		delta int
	}
	edges := make([]edge, 0, 2*len(ws))
	for _, w := range ws {
		edges = append(edges, edge{w.Started, 1}, edge{w.At, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // ends first
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

// store holds the objects of one collection in insertion order.
type store struct {
	typ  *intune.Type // nil for groups
	byID map[string]*object
	list []*object // ascending seq
}

// object is a stored Graph object. It is only touched under Tenant.mu, and
// everything handed out (HTTP bodies, Objects) is a deep copy.
type object struct {
	seq         int64
	props       map[string]any   // top-level properties without relations and assignments
	rels        map[string][]any // relation name → items (each a map)
	assignments []any
}

// defaultRoles are granted to a new tenant: every permission restored needs.
var defaultRoles = []string{
	"DeviceManagementConfiguration.ReadWrite.All",
	"DeviceManagementApps.ReadWrite.All",
	"DeviceManagementRBAC.ReadWrite.All",
	"DeviceManagementServiceConfig.ReadWrite.All",
	"Group.Read.All",
}

func newTenant(s *Server, id string) *Tenant {
	t := &Tenant{
		s: s, id: id,
		secrets: map[string]string{},
		roles:   slices.Clone(defaultRoles),
		rng:     mrand.New(mrand.NewPCG(0, 0)),
		stores:  map[string]*store{},
		groups:  &store{byID: map[string]*object{}},
		admx:    &store{byID: map[string]*object{}},
	}
	for _, typ := range intune.Types() {
		t.stores[typ.Key] = &store{typ: typ, byID: map[string]*object{}}
	}
	// Every tenant has the built-in Default scope tag; objects created
	// without scope tags get it.
	t.insert(t.stores["roleScopeTag"], &object{props: map[string]any{
		"@odata.type": "#microsoft.graph.roleScopeTag",
		"id":          "0", "displayName": "Default",
		"description": "Built-in scope tag", "isBuiltIn": true,
	}, rels: map[string][]any{}})
	return t
}

// ID returns the tenant id used in URLs.
func (t *Tenant) ID() string { return t.id }

// SetCredentials registers an app (client id) and its secret with the
// token endpoint. Several apps may be registered; calling it again for the
// same client id replaces the secret.
func (t *Tenant) SetCredentials(clientID, secret string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.secrets[clientID] = secret
}

// SetPermissions sets the application permissions granted in the tenant:
// the "roles" claim of access tokens issued from now on (tokens already
// issued keep theirs, as in Entra ID). A new tenant has every permission
// restored uses: DeviceManagementConfiguration, DeviceManagementApps,
// DeviceManagementRBAC and DeviceManagementServiceConfig .ReadWrite.All and
// Group.Read.All. With no arguments tokens carry no roles.
func (t *Tenant) SetPermissions(roles ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.roles = slices.Clone(roles)
}

// SetFaults replaces the tenant's fault settings; it restarts the
// throttling windows and reseeds the random faults from f.Seed.
func (t *Tenant) SetFaults(f Faults) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = f
	t.rng = mrand.New(mrand.NewPCG(uint64(f.Seed), 0))
	t.lim = limiter{}
}

func (t *Tenant) faultsCopy() Faults {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.faults
}

// Writes returns the write log in arrival order.
func (t *Tenant) Writes() []Write {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.writes)
}

// ResetWrites empties the write log.
func (t *Tenant) ResetWrites() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writes = nil
}

func (t *Tenant) logWrite(w Write) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writes = append(t.writes, w)
}

// Requests returns how many Graph requests the tenant has seen, whatever
// their outcome: a $batch counts once plus once per inner request. Token
// requests are not counted.
func (t *Tenant) Requests() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.requests
}

func (t *Tenant) countRequest() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests++
}

// AddGroup adds (or renames) an Entra ID group that assignments may target.
func (t *Tenant) AddGroup(id, displayName string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	props := map[string]any{
		"id": id, "displayName": displayName, "description": nil,
		"securityEnabled": true, "mailEnabled": false, "groupTypes": []any{},
	}
	if o, ok := t.groups.byID[id]; ok {
		o.props = props
		return
	}
	t.insert(t.groups, &object{props: props})
}

// Groups returns the tenant's groups (id, displayName, ...) in insertion
// order.
func (t *Tenant) Groups() []map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]map[string]any, 0, len(t.groups.list))
	for _, o := range t.groups.list {
		out = append(out, deepCopy(o.props).(map[string]any))
	}
	return out
}

// Put stores obj as an object of the catalog type typeKey directly, the way
// a seeded tenant would hold it: no throttling, no write log, no read-only
// or reference checks (only @odata.type must belong to the type's family;
// every @odata.type is stored with its leading "#", as a write would).
// A given "id" is kept (an existing object with that id is replaced);
// otherwise one is assigned. Server-set fields that are absent are filled.
// obj may carry "assignments" and relation arrays (e.g. "settings",
// "definitionValues"); their items get ids when they have none. Put returns
// the stored object as Object would.
func (t *Tenant) Put(typeKey string, obj map[string]any) (map[string]any, error) {
	typ, ok := intune.Lookup(typeKey)
	if !ok {
		return nil, fmt.Errorf("graphsim: unknown type %q", typeKey)
	}
	doc, err := jsonClone(obj)
	if err != nil {
		return nil, fmt.Errorf("graphsim: %s: %w", typeKey, err)
	}
	canonicalTypes(doc)
	if odata, _ := doc["@odata.type"].(string); !typ.AcceptsODataType(odata) {
		return nil, fmt.Errorf("graphsim: %s: @odata.type %q is not in the type's family", typeKey, odata)
	}
	now := t.s.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.stores[typeKey]
	o := &object{props: doc, rels: map[string][]any{}}
	for _, r := range typ.Expand {
		items, err := relationItems(doc, r.Name)
		if err != nil {
			return nil, fmt.Errorf("graphsim: %s: %w", typeKey, err)
		}
		delete(doc, r.Name)
		for i, it := range items {
			items[i] = stampItem(it.(map[string]any), r, now, false)
		}
		o.rels[r.Name] = items
	}
	if raw, ok := doc["assignments"]; ok {
		if !typ.Assignments.Supported {
			return nil, fmt.Errorf("graphsim: %s has no assignments", typeKey)
		}
		delete(doc, "assignments")
		items, ok := raw.([]any)
		if !ok {
			return nil, fmt.Errorf("graphsim: %s: assignments must be an array", typeKey)
		}
		o.assignments = items
	}
	id, _ := doc["id"].(string)
	if id == "" {
		id = t.newID(st)
		doc["id"] = id
	}
	for i, a := range o.assignments {
		m, ok := a.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("graphsim: %s: assignment %d is not an object", typeKey, i)
		}
		o.assignments[i] = stampAssignment(typ, id, m, false)
	}
	t.fillServerFields(typ, o, now)
	if old, ok := st.byID[id]; ok {
		old.props, old.rels, old.assignments = o.props, o.rels, o.assignments
		return old.full(typ), nil
	}
	t.insert(st, o)
	return o.full(typ), nil
}

// Objects returns deep copies of every object of the type in insertion
// order, each with all its relations (arrays, possibly empty) and, when the
// type has assignments, "assignments". Unknown types give nil.
func (t *Tenant) Objects(typeKey string) []map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.stores[typeKey]
	if !ok {
		return nil
	}
	out := make([]map[string]any, 0, len(st.list))
	for _, o := range st.list {
		out = append(out, o.full(st.typ))
	}
	return out
}

// Object returns a deep copy of one object, as Objects does.
func (t *Tenant) Object(typeKey, id string) (map[string]any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.stores[typeKey]
	if !ok {
		return nil, false
	}
	o, ok := st.byID[id]
	if !ok {
		return nil, false
	}
	return o.full(st.typ), true
}

// insert appends o to st; the caller holds t.mu.
func (t *Tenant) insert(st *store, o *object) {
	t.seq++
	o.seq = t.seq
	st.byID[o.props["id"].(string)] = o
	st.list = append(st.list, o)
}

// remove deletes the object with id from st; the caller holds t.mu.
func (t *Tenant) remove(st *store, id string) {
	o := st.byID[id]
	delete(st.byID, id)
	st.list = slices.DeleteFunc(st.list, func(x *object) bool { return x == o })
}

// newID returns a new object id: numeric for scope tags (as Intune numbers
// them, "0" being Default), a GUID otherwise. The caller holds t.mu.
func (t *Tenant) newID(st *store) string {
	if st.typ != nil && st.typ.Key == "roleScopeTag" {
		max := 0
		for id := range st.byID {
			if n, err := strconv.Atoi(id); err == nil && n > max {
				max = n
			}
		}
		return strconv.Itoa(max + 1)
	}
	return newGUID()
}

// full renders an object with every relation and its assignments.
func (o *object) full(typ *intune.Type) map[string]any {
	m := deepCopy(o.props).(map[string]any)
	for _, r := range typ.Expand {
		m[r.Name] = deepCopy(nonNil(o.rels[r.Name]))
	}
	if typ.Assignments.Supported {
		m["assignments"] = deepCopy(nonNil(o.assignments))
	}
	return m
}

func nonNil(s []any) []any {
	if s == nil {
		return []any{}
	}
	return s
}

// relationItems returns doc[name] as a list of objects (nil when absent).
func relationItems(doc map[string]any, name string) ([]any, error) {
	raw, ok := doc[name]
	if !ok || raw == nil {
		return nil, nil
	}
	items, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be an array", name)
	}
	for i, it := range items {
		if _, ok := it.(map[string]any); !ok {
			return nil, fmt.Errorf("%s[%d] is not an object", name, i)
		}
	}
	return items, nil
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// jsonClone copies v through JSON, so stored values have the types a
// decoded request body has (float64 numbers, []any, map[string]any).
func jsonClone(v map[string]any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// newGUID returns a random GUID in Graph's lower-case form.
func newGUID() string { return formatGUID(randomBytes(16)) }

func formatGUID(b []byte) string {
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("graphsim: crypto/rand: " + err.Error())
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }

// timestamp formats t the way Graph does (UTC, fractional seconds).
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }
