module layerproof.invalid/gogzip

go 1.19
