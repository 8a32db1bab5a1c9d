package cms

import (
	"errors"
	"fmt"
)

// BER tags used by the writers.
const (
	TagInteger     = 0x02
	TagOctetString = 0x04
	TagNull        = 0x05
	TagOID         = 0x06
	TagSequence    = 0x30
	TagSet         = 0x31
	TagCtx0        = 0xa0 // [0] constructed
	TagCtx1        = 0xa1 // [1] constructed
	TagCtx2        = 0xa2 // [2] constructed
	TagCtx0Prim    = 0x80 // [0] primitive
	TagOctetCons   = 0x24 // constructed OCTET STRING
)

// EOC is the end-of-contents marker closing an indefinite-length value.
var EOC = []byte{0, 0}

// AppendHeader appends a BER identifier and definite length for n content bytes.
func AppendHeader(b []byte, tag byte, n int) []byte {
	b = append(b, tag)
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// AppendIndefinite appends a constructed identifier with indefinite length.
func AppendIndefinite(b []byte, tag byte) []byte {
	return append(b, tag|0x20, 0x80)
}

// Node is one decoded BER value. Raw holds the complete encoding (identifier,
// length and contents) and is exact only for definite-length values; Content
// holds the contents of a primitive or definite-length value.
type Node struct {
	Class       int // 0 universal, 1 application, 2 context, 3 private
	Tag         int
	Constructed bool
	Raw         []byte
	Content     []byte
	Children    []*Node
}

// ErrBER reports malformed BER.
var ErrBER = errors.New("cms: malformed BER")

const maxDepth = 64

// Parse decodes one BER value from b, returning it and the rest of b.
func Parse(b []byte) (*Node, []byte, error) {
	return parse(b, 0)
}

func parse(b []byte, depth int) (*Node, []byte, error) {
	if depth > maxDepth {
		return nil, nil, fmt.Errorf("%w: nested too deeply", ErrBER)
	}
	start := b
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%w: truncated", ErrBER)
	}
	id := b[0]
	n := &Node{Class: int(id >> 6), Constructed: id&0x20 != 0, Tag: int(id & 0x1f)}
	b = b[1:]
	if n.Tag == 0x1f {
		n.Tag = 0
		for {
			if len(b) == 0 {
				return nil, nil, fmt.Errorf("%w: truncated tag", ErrBER)
			}
			c := b[0]
			b = b[1:]
			n.Tag = n.Tag<<7 | int(c&0x7f)
			if n.Tag > 1<<24 {
				return nil, nil, fmt.Errorf("%w: tag too large", ErrBER)
			}
			if c&0x80 == 0 {
				break
			}
		}
	}
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: truncated length", ErrBER)
	}
	l := int(b[0])
	b = b[1:]
	if l == 0x80 {
		if !n.Constructed {
			return nil, nil, fmt.Errorf("%w: indefinite primitive", ErrBER)
		}
		for {
			if len(b) >= 2 && b[0] == 0 && b[1] == 0 {
				b = b[2:]
				break
			}
			if len(b) == 0 {
				return nil, nil, fmt.Errorf("%w: missing end-of-contents", ErrBER)
			}
			c, rest, err := parse(b, depth+1)
			if err != nil {
				return nil, nil, err
			}
			n.Children = append(n.Children, c)
			b = rest
		}
		n.Raw = start[:len(start)-len(b)]
		return n, b, nil
	}
	if l > 0x80 {
		k := l & 0x7f
		if k > 4 || len(b) < k {
			return nil, nil, fmt.Errorf("%w: bad length", ErrBER)
		}
		l = 0
		for i := 0; i < k; i++ {
			l = l<<8 | int(b[i])
		}
		b = b[k:]
	}
	if l > len(b) {
		return nil, nil, fmt.Errorf("%w: value longer than input", ErrBER)
	}
	n.Content = b[:l]
	n.Raw = start[:len(start)-len(b)+l]
	rest := b[l:]
	if n.Constructed {
		c := n.Content
		for len(c) > 0 {
			ch, r, err := parse(c, depth+1)
			if err != nil {
				return nil, nil, err
			}
			n.Children = append(n.Children, ch)
			c = r
		}
	}
	return n, rest, nil
}

// Is reports whether n has the given class, tag and constructed flag.
func (n *Node) Is(class, tag int, constructed bool) bool {
	return n != nil && n.Class == class && n.Tag == tag && n.Constructed == constructed
}

// Bytes returns the contents of a primitive value or the concatenated
// contents of a constructed string (such as a chunked OCTET STRING).
func (n *Node) Bytes() []byte {
	if !n.Constructed {
		return n.Content
	}
	var out []byte
	for _, c := range n.Children {
		out = append(out, c.Bytes()...)
	}
	return out
}

// Child returns the i-th child or nil.
func (n *Node) Child(i int) *Node {
	if n == nil || i < 0 || i >= len(n.Children) {
		return nil
	}
	return n.Children[i]
}

// DER returns an encoding of n usable with encoding/asn1: Raw for definite
// values, or a re-encoding with definite lengths for indefinite ones.
func (n *Node) DER() []byte {
	if !n.Constructed || n.Tag >= 0x1f || (len(n.Raw) >= 2 && n.Raw[1] != 0x80) {
		return n.Raw
	}
	var content []byte
	for _, c := range n.Children {
		content = append(content, c.DER()...)
	}
	id := byte(n.Class<<6) | 0x20 | byte(n.Tag)
	return append(AppendHeader(nil, id, len(content)), content...)
}
