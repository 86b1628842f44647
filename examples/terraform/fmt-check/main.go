// Command fmt-check does what `terraform fmt -check -recursive` does, for machines without a
// terraform or tofu binary: it formats every .tf and .tfvars file with hclwrite (the formatter
// terraform fmt is built on), applies terraform fmt's two normalizations (legacy quoted type
// names in variable blocks, and "${...}" strings that hold a single interpolation), and lists
// each file whose bytes would change. It exits 3 when any would, as terraform fmt -check does.
// With -write first, it rewrites those files instead, as terraform fmt does.
package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

func main() {
	roots := os.Args[1:]
	write := len(roots) > 0 && roots[0] == "-write"
	if write {
		roots = roots[1:]
	}
	if len(roots) == 0 {
		roots = []string{"."}
	}
	unformatted := 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if entry.IsDir() {
				if path != root && strings.HasPrefix(entry.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".tf") && !strings.HasSuffix(path, ".tfvars") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			formatted, diags := format(src, path)
			if diags.HasErrors() {
				return fmt.Errorf("%s: %s", path, diags.Error())
			}
			if !bytes.Equal(src, formatted) {
				fmt.Println(path)
				if write {
					return os.WriteFile(path, formatted, 0o644)
				}
				unformatted++
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	if unformatted > 0 {
		os.Exit(3)
	}
}

func format(src []byte, path string) ([]byte, hcl.Diagnostics) {
	// Syntax errors first, with positions, as terraform fmt reports them.
	if _, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	file, diags := hclwrite.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	normalizeBody(file.Body(), "")
	return file.Bytes(), nil
}

func normalizeBody(body *hclwrite.Body, blockType string) {
	for name, attr := range body.Attributes() {
		tokens := attr.Expr().BuildTokens(nil)
		if blockType == "variable" && name == "type" {
			body.SetAttributeRaw(name, normalizeType(tokens))
		} else {
			body.SetAttributeRaw(name, unwrapInterpolation(tokens))
		}
	}
	for _, block := range body.Blocks() {
		block.SetLabels(block.Labels())
		normalizeBody(block.Body(), block.Type())
	}
}

func ident(text string) *hclwrite.Token {
	return &hclwrite.Token{Type: hclsyntax.TokenIdent, Bytes: []byte(text)}
}

func collection(kind, element string) hclwrite.Tokens {
	return hclwrite.Tokens{
		ident(kind),
		{Type: hclsyntax.TokenOParen, Bytes: []byte("(")},
		ident(element),
		{Type: hclsyntax.TokenCParen, Bytes: []byte(")")},
	}
}

// normalizeType turns `list` into `list(any)` and Terraform 0.11's quoted "string", "list" and
// "map" into their current spelling.
func normalizeType(tokens hclwrite.Tokens) hclwrite.Tokens {
	if len(tokens) == 1 && tokens[0].Type == hclsyntax.TokenIdent {
		switch kind := string(tokens[0].Bytes); kind {
		case "list", "map", "set":
			return collection(kind, "any")
		}
		return tokens
	}
	if len(tokens) == 3 && tokens[0].Type == hclsyntax.TokenOQuote &&
		tokens[1].Type == hclsyntax.TokenQuotedLit && tokens[2].Type == hclsyntax.TokenCQuote {
		switch kind := string(tokens[1].Bytes); kind {
		case "string":
			return hclwrite.Tokens{ident("string")}
		case "list", "map":
			return collection(kind, "string")
		}
	}
	return tokens
}

// unwrapInterpolation turns "${expr}" into expr when the string holds nothing else, wrapping a
// multi-line expression in parentheses so that it still parses.
func unwrapInterpolation(tokens hclwrite.Tokens) hclwrite.Tokens {
	n := len(tokens)
	if n < 5 || tokens[0].Type != hclsyntax.TokenOQuote || tokens[1].Type != hclsyntax.TokenTemplateInterp ||
		tokens[n-2].Type != hclsyntax.TokenTemplateSeqEnd || tokens[n-1].Type != hclsyntax.TokenCQuote {
		return tokens
	}
	inner := tokens[2 : n-2]
	depth := 0
	for _, token := range inner {
		switch {
		case token.Type == hclsyntax.TokenOQuote:
			depth++
		case token.Type == hclsyntax.TokenCQuote:
			depth--
		case depth > 0:
			// Inside a nested string: its own interpolations do not count.
		case token.Type == hclsyntax.TokenTemplateInterp, token.Type == hclsyntax.TokenTemplateSeqEnd,
			token.Type == hclsyntax.TokenQuotedLit:
			return tokens
		}
	}
	for len(inner) > 0 && inner[0].Type == hclsyntax.TokenNewline {
		inner = inner[1:]
	}
	for len(inner) > 0 && inner[len(inner)-1].Type == hclsyntax.TokenNewline {
		inner = inner[:len(inner)-1]
	}
	multiline := false
	for _, token := range inner {
		if token.Type == hclsyntax.TokenNewline {
			multiline = true
		}
	}
	parenthesized := len(inner) > 1 && inner[0].Type == hclsyntax.TokenOParen && inner[len(inner)-1].Type == hclsyntax.TokenCParen
	if !multiline || parenthesized {
		return inner
	}
	wrapped := hclwrite.Tokens{{Type: hclsyntax.TokenOParen, Bytes: []byte("(")}}
	wrapped = append(wrapped, inner...)
	return append(wrapped, &hclwrite.Token{Type: hclsyntax.TokenCParen, Bytes: []byte(")")})
}
