# want: 2:21 Invalid target registry
target { registry = "myteam/images" }
