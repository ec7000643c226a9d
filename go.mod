module github.com/gatherer/gatherer

go 1.26
