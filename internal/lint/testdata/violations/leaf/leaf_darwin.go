package leaf

import _ "example.com/violations/other/deep" // forbidden, and only seen on darwin
