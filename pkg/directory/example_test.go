package directory_test

import (
	"context"
	"fmt"
	"log"

	"github.com/serverless-scim/serverless-scim/internal/groups"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/pkg/directory"
)

// Reading a user and listing a tenant's users from an application. In the
// application, the client and the table name come from its environment:
//
//	cfg, err := config.LoadDefaultConfig(ctx) // github.com/aws/aws-sdk-go-v2/config
//	db := dynamodb.NewFromConfig(cfg)
//	dir := directory.New(db, os.Getenv("DIRECTORY_TABLE")) // the stack's DirectoryTableName
//
// with the stack's DirectoryReadPolicy attached to the application's role.
// Here the table is on DynamoDB Local, and the SCIM service wrote the users.
func Example() {
	ctx := context.Background()
	db, table, scimService := newTable()
	for _, name := range []string{"jane.doe@example.com", "john.roe@example.com"} {
		if _, err := scimService.Create(ctx, "acme", map[string]any{"userName": name, "active": true}); err != nil {
			log.Fatal(err)
		}
	}

	dir := directory.New(db, table)

	// By userName (compared without regard to case), then by id.
	jane, err := dir.UserByUserName(ctx, "acme", "Jane.Doe@Example.com")
	if err != nil {
		log.Fatal(err)
	}
	again, err := dir.User(ctx, "acme", jane.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.UserName, again.Active, again.Version)

	// Every user of the tenant, page by page.
	n := 0
	for u, err := range dir.AllUsers(ctx, "acme") {
		if err != nil {
			log.Fatal(err)
		}
		_ = u.Attributes["name"] // the SCIM attributes, as the API returns them
		n++
	}
	fmt.Println(n, "users")

	// A user that is not there.
	_, err = dir.UserByUserName(ctx, "acme", "nobody@example.com")
	fmt.Println(err == directory.ErrNotFound)
	// Output:
	// jane.doe@example.com true 1
	// 2 users
	// true
}

// Listing one page at a time, as a web page of users would.
func ExampleReader_Users() {
	ctx := context.Background()
	db, table, scimService := newTable()
	for i := range 5 {
		if _, err := scimService.Create(ctx, "acme", map[string]any{"userName": fmt.Sprintf("u%d@example.com", i)}); err != nil {
			log.Fatal(err)
		}
	}
	dir := directory.New(db, table)
	token := ""
	for {
		page, err := dir.Users(ctx, "acme", 2, token)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(len(page.Users), "on this page")
		if token = page.Next; token == "" {
			break
		}
	}
	// Output:
	// 2 on this page
	// 2 on this page
	// 1 on this page
}

// Reading a group, its members and a user's groups, as an application
// that grants access by group would.
func ExampleReader_Members() {
	ctx := context.Background()
	db, table, scimService := newTable()
	jane, err := scimService.Create(ctx, "acme", map[string]any{"userName": "jane.doe@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	groupService := groups.New(dynamo.NewGroupStore(db, table))
	if _, err := groupService.Create(ctx, "acme", map[string]any{"displayName": "Admins",
		"members": []any{map[string]any{"value": jane.ID, "display": "Jane Doe"}}}); err != nil {
		log.Fatal(err)
	}

	dir := directory.New(db, table)
	admins, err := dir.GroupByDisplayName(ctx, "acme", "admins")
	if err != nil {
		log.Fatal(err)
	}
	for m, err := range dir.Members(ctx, "acme", admins.ID) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(admins.DisplayName, "has", m.Display)
	}
	ids, err := dir.GroupsOf(ctx, "acme", jane.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(ids), "group", ids[0] == admins.ID)
	// Output:
	// Admins has Jane Doe
	// 1 group true
}
