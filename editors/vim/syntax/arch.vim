" Vim syntax file for archc's .arch network specs (docs/editors.md).
" Install: copy or link editors/vim into a 'runtimepath' directory, e.g.
"   mkdir -p ~/.vim/pack/archc/start && ln -s "$PWD/editors/vim" ~/.vim/pack/archc/start/archc
if exists("b:current_syntax")
  finish
endif

" Anything not matched below is an error (stray characters).
syn match archError "\S"
syn match archIdent "\<[[:alpha:]_][[:alnum:]_]*\>"
syn match archPunct "[{}(),;:]"
syn match archAssign "="
syn match archOperator "[-+*/%]"
syn match archLabel "\<[[:alpha:]_][[:alnum:]_]*\ze\s*:"
syn match archOption "\<[[:alpha:]_][[:alnum:]_]*\ze\s*="
syn match archCall "\<[[:alpha:]_][[:alnum:]_]*\ze\s*("
syn match archInteger "-\=\<\d\+\>"
syn match archFloat "-\=\(\<\d\+\.\d*\([eE][-+]\=\d\+\)\=\|\<\d\+[eE][-+]\=\d\+\|\.\d\+\([eE][-+]\=\d\+\)\=\)"
syn match archDims "\<\d\+\(x\d\+\)\+\>"
syn match archArrow "->"
syn keyword archKeyword input repeat branch from aux
syn keyword archConstant true false same valid ceil caffe paper
syn keyword archOp adaptive_avgpool adaptive_maxpool add avgpool batchnorm concat conv dense dropout elu flatten gelu global_avgpool groupnorm hardsigmoid hardswish layer_scale layernorm leaky_relu lrn maxpool multiply normalize pointwise_dense prelu rbf relu relu6 rescale scaled_tanh shuffle sigmoid silu softmax split stochastic_depth subsample tanh
syn keyword archDeclaration network module nextgroup=archDefName skipwhite
syn match archDefName "[[:alpha:]_][[:alnum:]_]*" contained
syn region archTable matchgroup=archKeyword start="\<connections\>\s*{" end="}" contains=archComment,archRow,archInteger,archMark,archNoMark,archError
syn match archRow "\<\d\+\s*:" contained
syn match archMark "X" contained
syn match archNoMark "\." contained
syn match archComment "#.*$" contains=@Spell

hi def link archError Error
hi def link archIdent Identifier
hi def link archPunct Delimiter
hi def link archAssign Operator
hi def link archOperator Operator
hi def link archLabel Label
hi def link archOption Type
hi def link archCall Function
hi def link archInteger Number
hi def link archFloat Float
hi def link archDims Number
hi def link archArrow Operator
hi def link archKeyword Keyword
hi def link archConstant Constant
hi def link archOp Function
hi def link archDeclaration Structure
hi def link archDefName Function
hi def link archRow Number
hi def link archMark Constant
hi def link archNoMark Delimiter
hi def link archComment Comment

let b:current_syntax = "arch"
