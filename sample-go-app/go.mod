module example.com/sample-go-app

go 1.23
