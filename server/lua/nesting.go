package lua

import (
	"reflect"
	"strconv"

	"github.com/yuin/gopher-lua/ast"
)

// Lua 5.1 refuses a chunk nested deeper than LUAI_MAXCCALLS (200) syntactic levels ("chunk
// has too many syntax levels"). gopher-lua's compiler recurses on the syntax tree without a
// limit, so a deeply nested script would overflow the goroutine stack, which kills the
// process. checkNesting scans the source the way Lua's lexer would, counting open blocks,
// brackets and chains of unary or right-associative operators, and refuses what Lua refuses
// before gopher-lua sees it.

const maxSyntaxLevels = 200

// checkNesting returns Lua's error for a chunk nested too deeply, or "". chain counts unary
// operators in a row; concat counts the ".." and "^" of one right-associative chain, which
// Lua parses by recursion.
func checkNesting(src, name string) string {
	depth, chain, concat, line := 0, 0, 0, 1
	tooDeep := func() string {
		return name + ":" + strconv.Itoa(line) + ": chunk has too many syntax levels"
	}
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case isSpace(c):
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			i += 2
			if level, ok := longBracket(src, i); ok {
				i = skipLong(src, i, level, &line)
			} else {
				for i < len(src) && src[i] != '\n' {
					i++
				}
			}
		case c == '[':
			if level, ok := longBracket(src, i); ok {
				i = skipLong(src, i, level, &line)
				chain = 0
				continue
			}
			depth++
			i++
		case c == '"' || c == '\'':
			i++
			for i < len(src) && src[i] != c && src[i] != '\n' {
				if src[i] == '\\' && i+1 < len(src) {
					if src[i+1] == '\n' {
						line++
					}
					i++
				}
				i++
			}
			i++
			chain = 0
		case c == '(' || c == '{':
			depth++
			i++
		case c == ')' || c == '}' || c == ']':
			depth--
			chain = 0
			i++
		case c == '-' || c == '#':
			chain++
			i++
		case c == '^':
			concat++ // right-associative, as ".."
			i++
		case c == '.' && i+1 < len(src) && src[i+1] == '.' && (i+2 >= len(src) || src[i+2] != '.'):
			concat++
			i += 2
		case c == '=' || c == '<' || c == '>' || c == '~':
			chain, concat = 0, 0 // assignment or comparison: a new expression
			i++
		case c == '_' || isAlnum(c):
			j := i
			for j < len(src) && (src[j] == '_' || isAlnum(src[j]) || (isDigit(src[i]) && src[j] == '.')) {
				j++
			}
			switch src[i:j] {
			case "function", "do", "then", "repeat":
				depth++
				chain, concat = 0, 0
			case "end", "until", "elseif":
				depth--
				chain, concat = 0, 0
			case "not":
				chain++
			case "and", "or", "local", "return", "if", "while", "for", "else", "break", "in":
				chain, concat = 0, 0
			default:
				chain = 0
			}
			i = j
		default:
			if c == ',' || c == ';' {
				chain, concat = 0, 0
			}
			i++
		}
		if depth < 0 {
			depth = 0
		}
		if depth+chain+concat > maxSyntaxLevels {
			return tooDeep()
		}
	}
	return ""
}

// longBracket reports whether src[i:] opens a long bracket ([[ or [=*[) and its level.
func longBracket(src string, i int) (int, bool) {
	if i >= len(src) || src[i] != '[' {
		return 0, false
	}
	j := i + 1
	for j < len(src) && src[j] == '=' {
		j++
	}
	if j < len(src) && src[j] == '[' {
		return j - i - 1, true
	}
	return 0, false
}

// skipLong skips a long string or comment opened at src[i] and returns the index after it.
func skipLong(src string, i, level int, line *int) int {
	i += level + 2
	for i < len(src) {
		if src[i] == '\n' {
			*line++
		}
		if src[i] == ']' {
			j := i + 1
			for j < len(src) && src[j] == '=' {
				j++
			}
			if j-i-1 == level && j < len(src) && src[j] == ']' {
				return j + 1
			}
		}
		i++
	}
	return i
}

// maxTreeDepth bounds the depth of the syntax tree handed to gopher-lua's compiler, which
// recurses on it: Lua itself accepts long left-associative chains (a - b - c ..., f()()...,
// t.x.x ...) that make the tree deep, so this limit is far above what scripts write and far
// below what the goroutine stack survives.
const maxTreeDepth = 10000

// treeTooDeep reports whether the syntax tree below the statements is deeper than
// maxTreeDepth. It walks the tree with an explicit stack (recursion is what it guards
// against), through every exported field that holds nodes.
func treeTooDeep(chunk []ast.Stmt) bool {
	type item struct {
		v     reflect.Value
		depth int
	}
	stack := []item{{reflect.ValueOf(chunk), 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.depth > maxTreeDepth {
			return true
		}
		v := it.v
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				stack = append(stack, item{v.Elem(), it.depth})
			}
		case reflect.Pointer: // every node is held by pointer: one level
			if !v.IsNil() {
				stack = append(stack, item{v.Elem(), it.depth + 1})
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				stack = append(stack, item{v.Index(i), it.depth})
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				if f := v.Field(i); v.Type().Field(i).IsExported() {
					switch f.Kind() {
					case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Struct:
						stack = append(stack, item{f, it.depth})
					}
				}
			}
		}
	}
	return false
}
