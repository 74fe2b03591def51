// Package gorillaws lets gqlgen's websocket transport run on
// github.com/gorilla/websocket instead of its default, coder/websocket.
//
// Wire it in with
//
//	srv.AddTransport(transport.Websocket{Implementation: gorillaws.New(gorillaws.Options{})})
//
// Besides translating the API, the adapter papers over a few behaviours of
// gqlgen's transport that are harmless with coder/websocket but hurt with
// gorilla: double HTTP error responses on a failed upgrade, ignored write
// errors on dead peers, and a forbidden "complete" after "error" on the
// graphql-transport-ws protocol.
package gorillaws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
)

// DefaultWriteTimeout bounds each write when Options.WriteTimeout is zero.
const DefaultWriteTimeout = 10 * time.Second

// graphqlTransportWS is the modern protocol; it forbids "complete" after "error".
const graphqlTransportWS = "graphql-transport-ws"

// Options configures the adapter. The zero value is usable.
type Options struct {
	// WriteTimeout bounds every write (and the handshake response) so a peer
	// that stops reading cannot block the connection forever. Zero or less
	// means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// CheckOrigin decides whether the upgrade is allowed. Nil uses gorilla's
	// default: requests without an Origin header or from the same host.
	CheckOrigin func(r *http.Request) bool
	// ReadBufferSize and WriteBufferSize are gorilla's I/O buffer sizes; zero
	// reuses the buffers net/http allocated for the request.
	ReadBufferSize, WriteBufferSize int
	// Logger receives debug logs about dropped messages and dead peers. Nil
	// means slog.Default().
	Logger *slog.Logger
	// PingInterval, when positive, sends every socket a websocket ping
	// frame at this interval and closes a socket that answers neither it
	// nor the next one (no pong within twice the interval). Browsers and
	// websocket libraries answer ping frames by themselves. One goroutine
	// pings every socket of the process, where gqlgen's PingPongInterval
	// costs a goroutine per socket: use this instead of it.
	PingInterval time.Duration
}

// New returns a transport.WebsocketImplementation backed by gorilla/websocket.
func New(opts Options) transport.WebsocketImplementation {
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	i := implementation{opts: opts}
	if opts.PingInterval > 0 {
		i.pinger = &pinger{interval: opts.PingInterval, conns: map[*conn]struct{}{}}
	}
	return i
}

type implementation struct {
	opts   Options
	pinger *pinger // nil without PingInterval
}

// writeBuffers lends write buffers to connections only while they write: a
// subscriber idles between events, and 10,000 of them holding a 4 KiB
// buffer each is 40 MiB of nothing.
var writeBuffers sync.Pool

// Accept implements transport.WebsocketImplementation.
func (i implementation) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	u := websocket.Upgrader{
		HandshakeTimeout: i.opts.WriteTimeout,
		ReadBufferSize:   i.opts.ReadBufferSize,
		WriteBufferSize:  i.opts.WriteBufferSize,
		WriteBufferPool:  &writeBuffers,
		CheckOrigin:      i.opts.CheckOrigin,
		Subprotocols:     o.Subprotocols,
		// gqlgen answers a failed Accept with its own 400; letting gorilla
		// write one too yields a "superfluous WriteHeader" and a garbled body.
		Error: func(http.ResponseWriter, *http.Request, int, error) {},
	}
	ws, err := u.Upgrade(w, r, o.ResponseHeader)
	if err != nil {
		return nil, err
	}
	override, _ := r.Context().Value(overrideKey{}).(*closeOverride)
	c := &conn{ws: ws, opts: i.opts, override: override, pinger: i.pinger}
	i.pinger.add(c)
	return c, nil
}

type conn struct {
	ws   *websocket.Conn
	opts Options

	override *closeOverride // nil unless the request carried one
	pinger   *pinger        // nil unless Options.PingInterval

	mu       sync.Mutex // gorilla allows only one concurrent writer
	writeErr error      // first write failure; the socket is closed after it
	errored  sync.Map   // ids that got "error" on graphql-transport-ws
}

var (
	_ transport.WebsocketReadLimiter   = (*conn)(nil)
	_ transport.WebsocketReadDeadliner = (*conn)(nil)
)

// envelope is the part of a protocol message the adapter needs to look at.
type envelope struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// NextReader implements transport.WebsocketConn; a normal close by the peer
// becomes transport.ErrWebsocketClosed, as gqlgen expects.
func (c *conn) NextReader() (int, io.Reader, error) {
	typ, r, err := c.ws.NextReader()
	// 1001 is what browsers send when the page goes away: a normal end, not
	// an error worth reporting to the transport's ErrorFunc.
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return typ, nil, transport.ErrWebsocketClosed
	}
	if err != nil || c.ws.Subprotocol() != graphqlTransportWS {
		return typ, r, err
	}
	data, err := io.ReadAll(r) // bounded by SetReadLimit
	if err != nil {
		return typ, nil, err
	}
	// A client may reuse an id once its operation ended with "error"; the new
	// operation's "complete" must not be swallowed.
	var env envelope
	if json.Unmarshal(data, &env) == nil && env.Type == "subscribe" {
		c.errored.Delete(env.ID)
	}
	return typ, bytes.NewReader(data), nil
}

// WriteJSON implements transport.WebsocketConn.
func (c *conn) WriteJSON(v any) error {
	data, typ, id, err := encode(v)
	if err != nil {
		return err
	}
	if c.dropComplete(typ, id) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writeErr != nil {
		return c.writeErr
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	err = c.ws.WriteMessage(websocket.TextMessage, data)
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil // gqlgen keeps writing while it tears down; nobody is listening
	}
	if err != nil {
		// gqlgen only reports write errors and carries on, so a dead peer
		// would keep subscriptions producing forever. Closing makes the read
		// loop fail, which is what tears the connection down.
		c.writeErr = err
		_ = c.ws.Close()
		c.opts.Logger.Debug("gorillaws: closing websocket after write error", "error", err)
	}
	return err
}

// encode serializes a protocol message and says its type and id. gqlgen's
// messages (both protocols) are structs of a JSON payload, an id and a type;
// they are written here without a second pass of encoding/json over a
// payload gqlgen has just encoded, which for 10,000 subscribers of a feed
// is the largest cost after the socket write itself. Any other value goes
// through encoding/json.
func encode(v any) (data []byte, typ, id string, err error) {
	if m, ok := protocolMessage(v); ok {
		data = make([]byte, 0, len(m.payload)+len(m.id)+len(m.typ)+40)
		data = append(data, '{')
		if len(m.payload) > 0 {
			data = append(data, `"payload":`...)
			data = append(data, m.payload...)
			data = append(data, ',')
		}
		if m.id != "" {
			data = append(data, `"id":`...)
			data = appendString(data, m.id)
			data = append(data, ',')
		}
		data = append(data, `"type":`...)
		data = appendString(data, m.typ)
		return append(data, '}'), m.typ, m.id, nil
	}
	if data, err = json.Marshal(v); err != nil {
		return nil, "", "", err
	}
	var env envelope
	_ = json.Unmarshal(data, &env)
	return data, env.Type, env.ID, nil
}

type message struct {
	payload json.RawMessage
	id, typ string
}

// messageFields are the field indexes of a protocol message type.
type messageFields struct{ payload, id, typ int }

var messageTypes sync.Map // reflect.Type → *messageFields, nil if not one

// protocolMessage reads v as a pointer to a struct with exactly the JSON
// fields payload (raw JSON, omitted when empty), id (a string, omitted when
// empty) and type (a string).
func protocolMessage(v any) (message, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return message{}, false
	}
	rv = rv.Elem()
	f, ok := messageTypes.Load(rv.Type())
	if !ok {
		f, _ = messageTypes.LoadOrStore(rv.Type(), fieldsOf(rv.Type()))
	}
	mf := f.(*messageFields)
	if mf == nil {
		return message{}, false
	}
	// The payload is written as it is, not validated again: gqlgen builds
	// every payload with json.Marshal.
	return message{payload: rv.Field(mf.payload).Bytes(), id: rv.Field(mf.id).String(), typ: rv.Field(mf.typ).String()}, true
}

func fieldsOf(t reflect.Type) *messageFields {
	mf := &messageFields{-1, -1, -1}
	raw := reflect.TypeFor[json.RawMessage]()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		switch {
		case tag == "":
			if f.IsExported() {
				return nil // a field encoding/json would write under its name
			}
		case tag == "payload,omitempty" && f.Type == raw:
			mf.payload = i
		case tag == "id,omitempty" && f.Type.Kind() == reflect.String:
			mf.id = i
		case tag == "type" && f.Type.Kind() == reflect.String:
			mf.typ = i
		default:
			return nil
		}
	}
	if mf.payload < 0 || mf.id < 0 || mf.typ < 0 {
		return nil
	}
	return mf
}

// appendString appends s as a JSON string; ids and types are short and
// plain, anything else is left to encoding/json.
func appendString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// dropComplete reports whether a message of type typ for id is a
// graphql-transport-ws "complete" for an id that already got "error".
// gqlgen sends both for e.g. validation errors, but the protocol forbids it
// and graphql-ws (JS) reacts by silently ending every other subscription on
// the socket.
func (c *conn) dropComplete(typ, id string) bool {
	if typ != "error" && typ != "complete" || c.ws.Subprotocol() != graphqlTransportWS {
		return false // checked first: nearly every message is a "next"
	}
	switch typ {
	case "error":
		c.errored.Store(id, struct{}{})
	case "complete":
		if _, ok := c.errored.LoadAndDelete(id); ok {
			c.opts.Logger.Debug("gorillaws: dropped complete after error", "id", id)
			return true
		}
	}
	return false
}

// WriteClose implements transport.WebsocketConn by sending a close frame.
func (c *conn) WriteClose(code int, reason string) error {
	// Control frames carry at most 125 bytes; gorilla refuses longer ones
	// and the peer would then see an abnormal 1006 instead of our code.
	if len(reason) > 123 {
		reason = strings.ToValidUTF8(reason[:123], "")
	}
	if code == websocket.CloseNormalClosure {
		code, reason = c.override.apply(code, reason)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writeErr != nil {
		return c.writeErr
	}
	msg := websocket.FormatCloseMessage(code, reason)
	err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.opts.WriteTimeout))
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil // e.g. gorilla already answered the peer's close or sent 1009
	}
	return err
}

// Close, Subprotocol, SetReadLimit and SetReadDeadline delegate to gorilla;
// the last two satisfy gqlgen's optional WebsocketReadLimiter and
// WebsocketReadDeadliner, without which PayloadReadLimit and the pong timeout
// of PingPongInterval are silently not enforced.
func (c *conn) Close() error             { c.pinger.remove(c); return c.ws.Close() }
func (c *conn) Subprotocol() string      { return c.ws.Subprotocol() }
func (c *conn) SetReadLimit(limit int64) { c.ws.SetReadLimit(limit) }
func (c *conn) SetReadDeadline(t time.Time) error {
	if c.pinger != nil && t.IsZero() {
		// gqlgen clears the deadline when a client sends a protocol
		// "pong" (graphql-transport-ws allows one as a heartbeat); the
		// pinger's deadline must stay, or a client that sent one and then
		// went silent would never be found dead.
		return nil
	}
	return c.ws.SetReadDeadline(t)
}

// closeOverride carries the close code the server chose for a socket. gqlgen
// closes a socket whose context ends with 1000 ("normal closure") whatever
// the cause; a socket ended because its token was revoked must close with
// 4403 ("Forbidden") instead, so a client knows not to reconnect with it.
type closeOverride struct {
	mu     sync.Mutex
	code   int
	reason string
}

type overrideKey struct{}

// WithCloseOverride returns a request context on which SetCloseCode can later
// choose the close code of the websocket the request is upgraded to. The
// server adds it to every websocket request before gqlgen sees it.
func WithCloseOverride(ctx context.Context) context.Context {
	return context.WithValue(ctx, overrideKey{}, &closeOverride{})
}

// SetCloseCode makes the socket of ctx (a context derived from one made by
// WithCloseOverride) close with code and reason instead of 1000 the next
// time gqlgen closes it normally. It reports whether ctx had an override.
func SetCloseCode(ctx context.Context, code int, reason string) bool {
	o, _ := ctx.Value(overrideKey{}).(*closeOverride)
	if o == nil {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.code, o.reason = code, reason
	return true
}

func (o *closeOverride) apply(code int, reason string) (int, string) {
	if o == nil {
		return code, reason
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.code == 0 {
		return code, reason
	}
	return o.code, o.reason
}

// pinger sends ping frames to every socket of the process from one
// goroutine, which runs while there are sockets.
type pinger struct {
	interval time.Duration

	mu    sync.Mutex
	conns map[*conn]struct{}
	stop  chan struct{} // non-nil while the goroutine runs; closed to end it
}

// pingWriteTimeout bounds one ping: a socket whose writes are stuck for
// longer is not waited for (its read deadline ends it).
const pingWriteTimeout = time.Second

// add starts watching c: its read deadline is twice the interval from now,
// and each pong pushes it further.
func (p *pinger) add(c *conn) {
	if p == nil {
		return
	}
	grace := 2 * p.interval
	_ = c.ws.SetReadDeadline(time.Now().Add(grace))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(grace)) })
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = struct{}{}
	if p.stop == nil {
		p.stop = make(chan struct{})
		go p.run(p.stop)
	}
}

// remove stops watching c; the last socket's removal ends the goroutine.
func (p *pinger) remove(c *conn) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	if len(p.conns) == 0 && p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
}

func (p *pinger) run(stop chan struct{}) {
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		conns := make([]*conn, 0, len(p.conns))
		for c := range p.conns {
			conns = append(conns, c)
		}
		p.mu.Unlock()
		for _, c := range conns {
			// WriteControl may run beside other writes (gorilla's rule).
			err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(pingWriteTimeout))
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				p.remove(c) // closed: nothing more to ping
			}
		}
	}
}
