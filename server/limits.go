package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/restored/restored/internal/platform/apperr"
)

// defaultPageSize is what a list field without first/last is costed at:
// the resolvers' default page (graph.page) is 50, a bare list may be longer.
const defaultPageSize = 50

// sizedSchema costs paginated fields by the number of elements they may
// return: gqlgen's default adds a field's children once, so 100 aliases of
// policies(first: 500) cost what 100 single policies would. Here a field
// that takes first/last costs its page size times its children: first or
// last when given (capped at the largest page a resolver accepts, which
// refuses more with its own error), defaultPageSize otherwise. Plain lists
// (a diff's settings, a viewer's capabilities) are bounded by the data, not
// by the client, and keep gqlgen's cost. Aliases are separate fields, so
// they are counted too.
type sizedSchema struct{ graphql.ExecutableSchema }

// maxCostedPage is graph.maxPage: the largest page a resolver serves.
const maxCostedPage = 500

func (s sizedSchema) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	if c, ok := s.ExecutableSchema.Complexity(ctx, typeName, field, child, args); ok {
		return c, true
	}
	def := s.Schema().Types[typeName]
	if def == nil {
		return 0, false
	}
	f := def.Fields.ForName(field)
	if f == nil || (f.Arguments.ForName("first") == nil && f.Arguments.ForName("last") == nil) {
		return 0, false // gqlgen's default: child + 1
	}
	n := defaultPageSize
	for _, k := range []string{"first", "last"} {
		if v, ok := count(args[k]); ok {
			n = min(v, maxCostedPage)
		}
	}
	return 1 + max(n, 1)*child, true
}

// responseLimit refuses a response whose data is larger than max bytes with
// BAD_USER_INPUT (reason RESPONSE_TOO_LARGE, like the reasons of gqlgen's own
// request errors): a client paging too greedily is told to ask for less,
// instead of the server streaming megabytes no SPA needs.
type responseLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = responseLimit{}

func (responseLimit) ExtensionName() string                   { return "ResponseLimit" }
func (responseLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (l responseLimit) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Data) <= l.max {
		return resp
	}
	return &graphql.Response{Errors: gqlerror.List{{
		Message:    fmt.Sprintf("the response would be %d bytes, over the limit of %d: ask for fewer items (first/last) or fewer fields", len(resp.Data), l.max),
		Extensions: map[string]any{"code": string(apperr.BadUserInput), "reason": "RESPONSE_TOO_LARGE"},
	}}}
}

// count reads a first/last argument as gqlgen hands it over: a literal
// arrives as int64, a variable as whatever its JSON decoded to.
func count(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, v >= 0
	case int64:
		return int(v), v >= 0
	case float64:
		return int(v), v >= 0
	case *int:
		if v != nil {
			return *v, *v >= 0
		}
	case json.Number:
		n, err := v.Int64()
		return int(n), err == nil && n >= 0
	}
	return 0, false
}
