package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// applyYAML walks the document node by node instead of unmarshalling into a
// struct: that is how it gets line numbers, catches unknown and repeated keys
// (yaml.v3 does not for nodes), and sees flags as written rather than as
// YAML 1.2 resolves them.
func (c *Config) applyYAML(name string, data []byte, src Source) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{Path: name, Err: errors.New("is empty")}
		}
		return &Error{Path: name, Err: err}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return &Error{Path: name, Line: next.Line, Err: errors.New("has a second YAML document; only one is read")}
	case !errors.Is(err, io.EOF):
		return &Error{Path: name, Err: err}
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return &Error{Path: name, Err: errors.New("is empty")}
	}
	if root.Kind != yaml.MappingNode {
		return &Error{Path: name, Line: root.Line, Err: fmt.Errorf("want keys at the top level, got %s", describe(root))}
	}
	w := walker{c: c, name: name, src: src, seen: make(map[string]int)}
	return w.mapping("", root)
}

type walker struct {
	c    *Config
	name string
	src  Source
	seen map[string]int // dotted key → line it was first given on
}

func (w *walker) fail(line int, key string, err error) error {
	return &Error{Path: w.name, Line: line, Key: key, Err: err}
}

func (w *walker) mapping(prefix string, m *yaml.Node) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := deref(m.Content[i]), deref(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return w.fail(k.Line, prefix, fmt.Errorf("want a key name, got %s", describe(k)))
		}
		key := k.Value
		if prefix != "" {
			key = prefix + "." + key
		}
		if first, ok := w.seen[key]; ok {
			return w.fail(k.Line, key, fmt.Errorf("given twice (first at line %d)", first))
		}
		w.seen[key] = k.Line
		switch {
		case lookup(key) != nil:
			if err := w.leaf(lookup(key), v); err != nil {
				return err
			}
		case sections[key]:
			if isNull(v) {
				continue // a section left empty, e.g. with its keys commented out
			}
			if v.Kind != yaml.MappingNode {
				return w.fail(v.Line, key, fmt.Errorf("want keys under it, got %s", describe(v)))
			}
			if err := w.mapping(key, v); err != nil {
				return err
			}
		default:
			value := ""
			if v.Kind == yaml.ScalarNode {
				value = v.Value
			}
			return w.fail(k.Line, key, unknownKey(key, value))
		}
	}
	return nil
}

func (w *walker) leaf(f *field, v *yaml.Node) error {
	var value string
	switch {
	case v.Kind == yaml.SequenceNode && f.item != nil:
		items := make([]string, 0, len(v.Content))
		for _, it := range v.Content {
			it = deref(it)
			if it.Kind != yaml.ScalarNode {
				return w.fail(it.Line, f.key, fmt.Errorf("want an address, got %s", describe(it)))
			}
			if err := f.item(scalar(it)); err != nil {
				return w.fail(it.Line, f.key, err)
			}
			items = append(items, scalar(it))
		}
		value = strings.Join(items, ",")
	case v.Kind == yaml.ScalarNode:
		value = scalar(v)
	default:
		return w.fail(v.Line, f.key, fmt.Errorf("want a single value, got %s", describe(v)))
	}
	if err := w.c.set(f, value, w.src); err != nil {
		return w.fail(v.Line, f.key, err)
	}
	return nil
}

// deref follows an alias to its anchor. The schema is a few levels deep and
// only known keys are descended into, so even a self-referencing anchor
// cannot make the walk loop.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// scalar is a node's text, with YAML's null spellings (~, null, nothing)
// read as the empty string.
func scalar(n *yaml.Node) string {
	if isNull(n) {
		return ""
	}
	return n.Value
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return quote(n.Value)
	}
	return "an alias"
}
