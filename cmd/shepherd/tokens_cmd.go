package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// runTokens manages API tokens: create, list, revoke (admin token needed
// once tokens exist; the master's --bootstrap-token works for the first).
func runTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: shepherd tokens create --scopes s1,s2 [--name N] | list | revoke ID")
	}
	fs, masters := clientFlags("tokens "+args[0], stderr)
	switch args[0] {
	case "create":
		name := fs.String("name", "", "what the token is for")
		scopes := fs.String("scopes", "", "comma-separated: worker, submit, read, admin (required)")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		tok, err := client.New(splitList(*masters)).CreateToken(ctx, client.CreateTokenRequest{Name: *name, Scopes: splitList(*scopes)})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "token %s created with scopes %v; it is shown only now:\n", tok.ID, tok.Scopes)
		fmt.Fprintln(stdout, tok.Token)
		return nil
	case "list":
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		list, err := client.New(splitList(*masters)).ListTokens(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, list)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED")
		for _, t := range list.Tokens {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", t.ID, t.Name, t.Scopes, t.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "revoke":
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("usage: shepherd tokens revoke [--masters ...] ID")
		}
		if err := client.New(splitList(*masters)).RevokeToken(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
		return nil
	}
	return fmt.Errorf("unknown tokens command %q (want create, list or revoke)", args[0])
}
