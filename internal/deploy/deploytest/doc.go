// Package deploytest holds the tests that tie the deployable pieces together:
// the events under events/ (decoded into their aws-lambda-go types and
// replayed through the functions' handlers, in process and under the Lambda
// Runtime Interface Emulator), the routes of template.yaml against the routes
// the handlers serve, and samconfig.toml against the template's parameters.
//
// It has no code of its own beyond the helpers its tests share.
package deploytest
