package dynamo

// NewUncountedUserStore is a UserStore whose kind keeps no bucket counters
// (and uses the code Z), to test that the mechanics honour the flag.
func NewUncountedUserStore(db API, tableName string) *UserStore {
	st := NewUserStore(db, tableName)
	st.k = kind{code: "Z", resourceType: "User", nameAttr: "userName", counted: false}
	return st
}
