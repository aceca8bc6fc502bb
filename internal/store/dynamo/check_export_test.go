package dynamo

// GroupsOnUserItem is groupsOnUserItem, for the checker's tests: which
// item they corrupt to break a user's group set.
const GroupsOnUserItem = groupsOnUserItem
