" Flowfile editing settings: '#' comments, 4-space indents (the layout `fileflow fmt` writes),
" and :make running `fileflow lint` on this file, its findings (and load errors) in the
" quickfix list.
if exists("b:did_ftplugin")
  finish
endif
let b:did_ftplugin = 1

setlocal commentstring=#\ %s comments=:# formatoptions-=t formatoptions+=croql
setlocal expandtab shiftwidth=4 softtabstop=4
" Findings are `path:line:col: CODE message (fix: ...)`, errors `path:line:col: error: ...`
" followed by the source line, a caret and a hint, which are left out.
setlocal makeprg=fileflow\ lint\ %:S
setlocal errorformat=%f:%l:%c:\ error:\ %m,%f:%l:%c:\ %m,%-G%.%#

let b:undo_ftplugin = "setlocal commentstring< comments< formatoptions< expandtab< shiftwidth< softtabstop< makeprg< errorformat<"
