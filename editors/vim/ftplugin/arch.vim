" archc .arch specs: comments, indentation, :make runs `archc check` into the quickfix list.
if exists("b:did_ftplugin")
  finish
endif
let b:did_ftplugin = 1
setlocal commentstring=#\ %s comments=:# shiftwidth=4 expandtab
setlocal makeprg=archc\ check\ %
setlocal errorformat=%f:%l:%c:\ %trror:\ %m,%f:%l:%c:\ %tarning:\ %m,%-G%.%#
let b:undo_ftplugin = "setlocal commentstring< comments< shiftwidth< expandtab< makeprg< errorformat<"
