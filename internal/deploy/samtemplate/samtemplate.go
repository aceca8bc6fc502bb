// Package samtemplate reads the repository's own SAM template (template.yaml)
// so that Go code and tests can use it as the single source of truth for the
// API's routes, the Lambda functions and the DynamoDB table.
//
// It is not a general CloudFormation reader. It understands exactly the shapes
// template.yaml uses: AWS::Serverless::Function resources whose Api events
// carry a literal Path and Method, Globals.Function defaults, and one
// AWS::DynamoDB::Table. Intrinsic functions (!Ref, !GetAtt, !Sub, !If …) are
// kept as opaque text; they are never evaluated.
//
// The document is decoded into a yaml.Node tree, not into structs, so that
// CloudFormation's short-form tags do not break decoding.
package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/serverless-scim/serverless-scim/internal/modroot"
)

// FileName is the template's name at the repository root.
const FileName = "template.yaml"

// Resource types this package reads.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeTable    = "AWS::DynamoDB::Table"
)

// Route is one API Gateway method: an HTTP method on a resource path, served
// by one function.
type Route struct {
	// Method is the HTTP method in upper case, e.g. "GET".
	Method string
	// Path is the API Gateway resource path with {name} placeholders,
	// e.g. "/scim/v2/Users/{id}".
	Path string
	// Function is the logical ID of the function serving the route.
	Function string
}

// String returns "METHOD /path -> Function".
func (r Route) String() string { return r.Method + " " + r.Path + " -> " + r.Function }

// Statement is one IAM policy statement of a function's inline policies.
// Resources written with intrinsic functions are rendered as text, e.g.
// "!GetAtt DirectoryTable.Arn" or "!Ref ApiKeysSecret".
type Statement struct {
	Sid       string
	Effect    string
	Actions   []string
	Resources []string
}

// Function is an AWS::Serverless::Function with Globals.Function applied.
type Function struct {
	LogicalID     string
	CodeURI       string
	Handler       string
	Runtime       string
	Architectures []string
	// Env holds the environment variables whose values are literal strings.
	Env map[string]string
	// EnvRefs holds the environment variables set with !Ref (or {Ref: X}),
	// mapped to the referenced logical ID or parameter name.
	EnvRefs map[string]string
	// EnvNames lists, sorted, every environment variable the function declares
	// (its own and Globals'), whatever form its value takes (literal, !Ref,
	// !Sub, …). `sam local invoke --env-vars` can set only these.
	EnvNames []string
	// BuildMethod is Metadata.BuildMethod ("makefile" for every function here).
	BuildMethod string
	// Statements are the inline policy statements (Policies: - Statement: …).
	Statements []Statement
	// ManagedPolicies are the policies given by name or ARN, including SAM
	// policy templates (given by their name, e.g. "DynamoDBCrudPolicy").
	ManagedPolicies []string
}

// KeyElement is one element of a key schema.
type KeyElement struct {
	// Name is the attribute name.
	Name string
	// Type is HASH or RANGE.
	Type string
}

// AttributeDef is one attribute definition: a name and its scalar type (S, N, B).
type AttributeDef struct {
	Name string
	Type string
}

// Index is a global or local secondary index.
type Index struct {
	Name string
	Keys []KeyElement
}

// TableDef is the AWS::DynamoDB::Table of the template.
type TableDef struct {
	LogicalID            string
	KeySchema            []KeyElement
	AttributeDefinitions []AttributeDef
	// BillingMode is PAY_PER_REQUEST or PROVISIONED (the CloudFormation default
	// when absent).
	BillingMode            string
	GlobalSecondaryIndexes []Index
	LocalSecondaryIndexes  []Index
	// TTLAttribute is the time-to-live attribute; TTLEnabled says whether TTL is on.
	TTLAttribute string
	TTLEnabled   bool
	// PointInTimeRecovery, DeletionProtection and SSE report those settings.
	PointInTimeRecovery bool
	DeletionProtection  bool
	SSE                 bool
	// DeletionPolicy and UpdateReplacePolicy are the resource attributes
	// ("Retain", "Delete", "Snapshot", or "" when absent).
	DeletionPolicy      string
	UpdateReplacePolicy string
}

// Template is what this package knows of template.yaml.
type Template struct {
	// Routes are every Api event of every function, sorted by path then method.
	Routes []Route
	// Functions maps logical IDs to functions, including AuthorizerFunction.
	Functions map[string]Function
	// Table is the template's DynamoDB table, or nil if it has none.
	Table *TableDef

	root *yaml.Node // the document's top mapping
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// LoadRoot loads template.yaml from the repository root found by FindRoot.
func LoadRoot() (*Template, error) {
	root, err := FindRoot()
	if err != nil {
		return nil, err
	}
	return Load(filepath.Join(root, FileName))
}

// FindRoot walks up from the working directory to the first directory holding
// a go.mod file (the repository root, where template.yaml lives), so that
// tests in any package can find the template.
func FindRoot() (string, error) { return modroot.Find() }

// Parse parses a SAM template.
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("template is not a YAML mapping")
	}
	root := doc.Content[0]
	t := &Template{Functions: map[string]Function{}, root: root}

	resources := get(root, "Resources")
	if resources == nil || resources.Kind != yaml.MappingNode {
		return nil, errors.New("template has no Resources mapping")
	}
	globals := get(root, "Globals", "Function")

	for i := 0; i+1 < len(resources.Content); i += 2 {
		id, res := resources.Content[i].Value, resources.Content[i+1]
		switch scalar(get(res, "Type")) {
		case TypeFunction:
			fn, routes, err := parseFunction(id, res, globals)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", id, err)
			}
			t.Functions[id] = fn
			t.Routes = append(t.Routes, routes...)
		case TypeTable:
			if t.Table != nil {
				return nil, fmt.Errorf("two DynamoDB tables (%s and %s); this package expects one", t.Table.LogicalID, id)
			}
			td, err := parseTable(id, res)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", id, err)
			}
			t.Table = td
		}
	}
	sort.Slice(t.Routes, func(i, j int) bool {
		if t.Routes[i].Path != t.Routes[j].Path {
			return t.Routes[i].Path < t.Routes[j].Path
		}
		return t.Routes[i].Method < t.Routes[j].Method
	})
	for i := 1; i < len(t.Routes); i++ {
		a, b := t.Routes[i-1], t.Routes[i]
		if a.Method == b.Method && a.Path == b.Path {
			return nil, fmt.Errorf("route %s %s is declared twice (%s and %s)", a.Method, a.Path, a.Function, b.Function)
		}
	}
	return t, nil
}

// Node returns the node at the given mapping keys below the document's top
// level (e.g. "Resources", "ScimApi", "Properties", "Auth"), or nil. It lets
// tests inspect parts of the template this package does not model.
func (t *Template) Node(keys ...string) *yaml.Node { return get(t.root, keys...) }

// Route returns the function serving method on path, and whether there is one.
func (t *Template) Route(method, path string) (string, bool) {
	for _, r := range t.Routes {
		if r.Method == method && r.Path == path {
			return r.Function, true
		}
	}
	return "", false
}

// CheckParameter reports whether value is acceptable for the template
// parameter name, as CloudFormation would judge it: the parameter exists,
// a Number parses and lies within MinValue/MaxValue, a value is one of
// AllowedValues when those are given, and a String matches AllowedPattern
// (anchored, as CloudFormation anchors it).
func (t *Template) CheckParameter(name, value string) error {
	p := t.Node("Parameters", name)
	if p == nil {
		return fmt.Errorf("no parameter %s in the template", name)
	}
	if allowed := get(p, "AllowedValues"); allowed != nil {
		if !slices.Contains(scalars(allowed), value) {
			return fmt.Errorf("%s=%q is not one of %v", name, value, scalars(allowed))
		}
	}
	switch scalar(get(p, "Type")) {
	case "Number":
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return fmt.Errorf("%s=%q is not a number", name, value)
		}
		if lo := scalar(get(p, "MinValue")); lo != "" {
			if min, err := strconv.ParseFloat(lo, 64); err == nil && v < min {
				return fmt.Errorf("%s=%s is below MinValue %s", name, value, lo)
			}
		}
		if hi := scalar(get(p, "MaxValue")); hi != "" {
			if max, err := strconv.ParseFloat(hi, 64); err == nil && v > max {
				return fmt.Errorf("%s=%s is above MaxValue %s", name, value, hi)
			}
		}
	case "String":
		if pat := scalar(get(p, "AllowedPattern")); pat != "" {
			re, err := regexp.Compile("^(?:" + pat + ")$")
			if err != nil {
				return fmt.Errorf("%s: AllowedPattern %q: %v", name, pat, err)
			}
			if !re.MatchString(value) {
				return fmt.Errorf("%s=%q does not match AllowedPattern %q", name, value, pat)
			}
		}
	}
	return nil
}

// Parameters returns the names of the template's parameters, sorted.
func (t *Template) Parameters() []string {
	var names []string
	if ps := t.Node("Parameters"); ps != nil && ps.Kind == yaml.MappingNode {
		for i := 0; i < len(ps.Content); i += 2 {
			names = append(names, ps.Content[i].Value)
		}
	}
	sort.Strings(names)
	return names
}

func parseFunction(id string, res, globals *yaml.Node) (Function, []Route, error) {
	props := get(res, "Properties")
	// prop reads a scalar property, falling back to Globals.Function.
	prop := func(name string) string {
		if v := get(props, name); v != nil {
			return scalar(v)
		}
		return scalar(get(globals, name))
	}
	fn := Function{
		LogicalID:   id,
		CodeURI:     prop("CodeUri"),
		Handler:     prop("Handler"),
		Runtime:     prop("Runtime"),
		BuildMethod: scalar(get(res, "Metadata", "BuildMethod")),
		Env:         map[string]string{},
		EnvRefs:     map[string]string{},
	}
	archs := get(props, "Architectures")
	if archs == nil {
		archs = get(globals, "Architectures")
	}
	fn.Architectures = scalars(archs)

	// Globals' variables first, so that the function's own override them.
	declared := map[string]bool{}
	for _, vars := range []*yaml.Node{get(globals, "Environment", "Variables"), get(props, "Environment", "Variables")} {
		if vars == nil || vars.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(vars.Content); i += 2 {
			name, v := vars.Content[i].Value, vars.Content[i+1]
			if !declared[name] {
				declared[name] = true
				fn.EnvNames = append(fn.EnvNames, name)
			}
			delete(fn.Env, name)
			delete(fn.EnvRefs, name)
			if ref, ok := refTarget(v); ok {
				fn.EnvRefs[name] = ref
			} else if isLiteral(v) {
				fn.Env[name] = v.Value
			}
		}
	}

	sort.Strings(fn.EnvNames)

	if pols := get(props, "Policies"); pols != nil {
		items := []*yaml.Node{pols}
		if pols.Kind == yaml.SequenceNode {
			items = pols.Content
		}
		for _, p := range items {
			switch {
			case p.Kind == yaml.ScalarNode:
				fn.ManagedPolicies = append(fn.ManagedPolicies, render(p))
			case get(p, "Statement") != nil:
				stmts := get(p, "Statement")
				list := []*yaml.Node{stmts}
				if stmts.Kind == yaml.SequenceNode {
					list = stmts.Content
				}
				for _, s := range list {
					fn.Statements = append(fn.Statements, Statement{
						Sid:       scalar(get(s, "Sid")),
						Effect:    scalar(get(s, "Effect")),
						Actions:   renderList(get(s, "Action")),
						Resources: renderList(get(s, "Resource")),
					})
				}
			case p.Kind == yaml.MappingNode && len(p.Content) == 2:
				// A SAM policy template such as {DynamoDBCrudPolicy: {TableName: …}}.
				fn.ManagedPolicies = append(fn.ManagedPolicies, p.Content[0].Value)
			default:
				fn.ManagedPolicies = append(fn.ManagedPolicies, render(p))
			}
		}
	}

	var routes []Route
	events := get(props, "Events")
	if events != nil && events.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(events.Content); i += 2 {
			name, ev := events.Content[i].Value, events.Content[i+1]
			if scalar(get(ev, "Type")) != "Api" {
				continue
			}
			method, path := get(ev, "Properties", "Method"), get(ev, "Properties", "Path")
			if !isLiteral(method) || !isLiteral(path) || method.Value == "" || path.Value == "" {
				return fn, nil, fmt.Errorf("event %s: Api events need a literal Method and Path", name)
			}
			routes = append(routes, Route{Method: strings.ToUpper(method.Value), Path: path.Value, Function: id})
		}
	}
	return fn, routes, nil
}

func parseTable(id string, res *yaml.Node) (*TableDef, error) {
	props := get(res, "Properties")
	td := &TableDef{
		LogicalID:           id,
		BillingMode:         scalar(get(props, "BillingMode")),
		TTLAttribute:        scalar(get(props, "TimeToLiveSpecification", "AttributeName")),
		TTLEnabled:          scalar(get(props, "TimeToLiveSpecification", "Enabled")) == "true",
		PointInTimeRecovery: scalar(get(props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")) == "true",
		DeletionProtection:  scalar(get(props, "DeletionProtectionEnabled")) == "true",
		SSE:                 scalar(get(props, "SSESpecification", "SSEEnabled")) == "true",
		DeletionPolicy:      scalar(get(res, "DeletionPolicy")),
		UpdateReplacePolicy: scalar(get(res, "UpdateReplacePolicy")),
	}
	if td.BillingMode == "" {
		td.BillingMode = "PROVISIONED"
	}
	td.KeySchema = keySchema(get(props, "KeySchema"))
	if len(td.KeySchema) == 0 {
		return nil, errors.New("table has no KeySchema")
	}
	if defs := get(props, "AttributeDefinitions"); defs != nil {
		for _, d := range defs.Content {
			td.AttributeDefinitions = append(td.AttributeDefinitions, AttributeDef{
				Name: scalar(get(d, "AttributeName")),
				Type: scalar(get(d, "AttributeType")),
			})
		}
	}
	for _, spec := range []struct {
		key string
		dst *[]Index
	}{{"GlobalSecondaryIndexes", &td.GlobalSecondaryIndexes}, {"LocalSecondaryIndexes", &td.LocalSecondaryIndexes}} {
		if idx := get(props, spec.key); idx != nil {
			for _, n := range idx.Content {
				*spec.dst = append(*spec.dst, Index{
					Name: scalar(get(n, "IndexName")),
					Keys: keySchema(get(n, "KeySchema")),
				})
			}
		}
	}
	return td, nil
}

func keySchema(n *yaml.Node) []KeyElement {
	if n == nil {
		return nil
	}
	var ks []KeyElement
	for _, e := range n.Content {
		ks = append(ks, KeyElement{Name: scalar(get(e, "AttributeName")), Type: scalar(get(e, "KeyType"))})
	}
	return ks
}

// get follows mapping keys from n; it returns nil when any step is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

// isLiteral reports whether n is a plain scalar (no CloudFormation tag).
func isLiteral(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && plainTag(n.Tag)
}

// plainTag reports whether tag is a YAML core tag (or none), as opposed to a
// CloudFormation short-form function such as !Ref.
func plainTag(tag string) bool {
	return tag == "" || tag == "!" || strings.HasPrefix(tag, "!!")
}

// scalar returns n's value if n is a literal scalar, else "".
func scalar(n *yaml.Node) string {
	if !isLiteral(n) {
		return ""
	}
	return n.Value
}

// scalars returns the literal scalars of a sequence (or of a single scalar).
func scalars(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, render(c))
	}
	return out
}

// refTarget returns X for "!Ref X" or "{Ref: X}".
func refTarget(n *yaml.Node) (string, bool) {
	if n == nil {
		return "", false
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!Ref" {
		return n.Value, true
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Ref" {
		return n.Content[1].Value, true
	}
	return "", false
}

// render returns a short textual form of a scalar or an intrinsic function:
// "x", "!Ref X", "!GetAtt X.Arn", "!Sub s". Long-form intrinsics
// ({Ref: X}, {Fn::GetAtt: [X, Arn]}) are rendered the same way.
func render(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if isLiteral(n) {
			return n.Value
		}
		return n.Tag + " " + n.Value
	case yaml.MappingNode:
		if len(n.Content) == 2 {
			fn, arg := n.Content[0].Value, n.Content[1]
			switch {
			case fn == "Ref":
				return "!Ref " + arg.Value
			case fn == "Fn::GetAtt" && arg.Kind == yaml.SequenceNode:
				return "!GetAtt " + strings.Join(scalars(arg), ".")
			case strings.HasPrefix(fn, "Fn::"):
				return "!" + strings.TrimPrefix(fn, "Fn::") + " " + render(arg)
			}
		}
	case yaml.SequenceNode:
		return n.Tag + " [" + strings.Join(scalars(n), ", ") + "]"
	}
	out, _ := yaml.Marshal(n)
	return strings.TrimSpace(string(out))
}

func renderList(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.SequenceNode && plainTag(n.Tag) {
		var out []string
		for _, c := range n.Content {
			out = append(out, render(c))
		}
		return out
	}
	return []string{render(n)}
}
