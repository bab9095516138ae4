" Flowfile indentation: one level in after a line ending in ':' (rule NAME:, input:),
" otherwise the previous line's indentation.
if exists("b:did_indent")
  finish
endif
let b:did_indent = 1

setlocal indentexpr=FlowfileIndent(v:lnum) autoindent
setlocal indentkeys=!^F,o,O
let b:undo_indent = "setlocal indentexpr< autoindent< indentkeys<"

if exists("*FlowfileIndent")
  finish
endif

function FlowfileIndent(lnum) abort
  let prev = prevnonblank(a:lnum - 1)
  if prev == 0
    return 0
  endif
  let text = substitute(getline(prev), '\s*#.*$', '', '')
  if text =~ ':\s*$'
    return indent(prev) + shiftwidth()
  endif
  return indent(prev)
endfunction
