module github.com/ronhost/ronhost/sdk-wasm

go 1.26
