" Vim syntax file
" Language:   Flowfile (fileflow's rule files; see docs/language.md)
" Files:      Flowfile, *.flow (ftdetect/flowfile.vim)
" Tested by:  tests/test_editor_syntax.py (real vim, synID() at chosen positions)

if exists("b:current_syntax")
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
syn sync fromstart

" Comments: '#' outside a string to the end of the line.
syn keyword flowfileTodo contained TODO FIXME XXX NOTE
syn match flowfileComment "#.*$" contains=flowfileTodo,@Spell

" rule NAME:, checkpoint NAME:
syn keyword flowfileRuleKeyword rule checkpoint nextgroup=flowfileRuleName skipwhite
syn match flowfileRuleName "\h\w*" contained

" use rule NAME as NEW with:, use rule * from MODULE as PREFIX_*; module NAME: and its settings
syn match flowfileRuleKeyword "^use\ze\s\+rule\>"
syn match flowfileRuleKeyword "\%(^use\s\+rule\>.*\)\@<=\<\%(from\|as\|with\)\>"
syn match flowfileRuleKeyword "^module\ze\s\+\h\w*\s*:" nextgroup=flowfileRuleName skipwhite
syn match flowfileDirective "^\s\+\%(flowfile\|prefix\|replace_prefix\)\ze\s*:"

" Top-level statements: include:, configfile:, configschema:, default:, wildcard_constraints:, storage:, onstart:, onsuccess:, onerror: (column 1);
" localrules: and ruleorder: name rules.
syn match flowfileTopDirective "^\%(include\|configfile\|configschema\|default\|wildcard_constraints\|storage\|onstart\|onsuccess\|onerror\)\ze\s*:"
syn region flowfileRuleList matchgroup=flowfileTopDirective
      \ start="^\%(localrules\|ruleorder\)\ze\s*:" end="$" keepend
      \ contains=flowfileRuleRef,flowfileOperator,flowfileComment
syn match flowfileRuleRef "\<\h\w*\>" contained

" from "workflow/common.py" import get_fastq, sample_groups (column 1): Python functions.
syn match flowfileImportKeyword "^from\ze\s*[rR]\=[\"']"
syn match flowfileImportKeyword "\%(^from\s*[rR]\=\%(\"[^\"]*\"\|'[^']*'\)\s*\)\@<=import\>"
      \ nextgroup=flowfileImportedNames skipwhite
syn match flowfileImportedNames "\h\w*\%(\s*,\s*\h\w*\)*" contained contains=flowfileImportedName
syn match flowfileImportedName "\h\w*" contained

" Rule directives (indented).
syn match flowfileDirective "^\s\+\%(input\|output\|params\|log\|threads\|resources\|retries\|timeout\|retry_delay\|retry_backoff\|priority\|message\|wildcard_constraints\|group\|conda\|envmodules\|shell\|script\|benchmark\)\ze\s*:"
syn match flowfileError "^\s\+run\ze\s*:"

" Expressions.
syn keyword flowfileConstant true false none True False None
syn keyword flowfileKeyword if else for and or not in
syn keyword flowfileBuiltin expand glob_wildcards temp protected directory ancient range len
      \ int str float bool list min max sum abs round sorted env zip enumerate any all set
      \ unpack table load read_text multiext touch ensure repeat
syn keyword flowfileSpecialVar config wildcards attempt checkpoints
syn match flowfileNumber "\%(\w\|\.\)\@<!\%(\d[0-9_]*\%(\.[0-9_]*\)\=\|\.\d[0-9_]*\)\%([eE][+-]\=\d\+\)\="
syn match flowfileOperator "==\|!=\|<=\|>=\|[<>]\|//\|[-+*/%=]"
syn match flowfileAssignment "^\h\w*\ze\s*=[^=]"

" Strings: '...', "...", raw r"...", and triple-quoted (which may span lines). Inside every
" string: {wildcard} / {input.reads} / {name,regex} fields and {{ }} escapes; outside raw
" strings, backslash escapes.
syn match flowfileEscape "\\\%(x\x\{2}\|u\x\{4}\|U\x\{8}\|N{[^}]\+}\|\o\{1,3}\|[\\'\"abfnrtv]\|$\)" contained
syn match flowfilePlaceholder contained
      \ "{\s*\h\w*\%(\s*\.\s*\h\w*\|\[\s*-\=\d\+\s*]\)*\s*\%(,\%([^{}]\|{[^{}]*}\)*\|:[^{}]*\)\=\s*}"
syn match flowfileBraceEscape "{{\|}}" contained
syn cluster flowfileStringContents contains=flowfilePlaceholder,flowfileBraceEscape,@Spell

syn region flowfileString start=+\%(\w\)\@<![fF]\="+ skip=+\\\\\|\\"+ end=+"+ end=+$+
      \ contains=@flowfileStringContents,flowfileEscape
syn region flowfileString start=+\%(\w\)\@<![fF]\='+ skip=+\\\\\|\\'+ end=+'+ end=+$+
      \ contains=@flowfileStringContents,flowfileEscape
syn region flowfileRawString start=+\%(\w\)\@<!\%([rR][fF]\=\|[fF][rR]\)"+ skip=+\\\\\|\\"+ end=+"+ end=+$+
      \ contains=@flowfileStringContents
syn region flowfileRawString start=+\%(\w\)\@<!\%([rR][fF]\=\|[fF][rR]\)'+ skip=+\\\\\|\\'+ end=+'+ end=+$+
      \ contains=@flowfileStringContents
" Defined after the one-line strings, so that at a """ these win.
syn region flowfileTripleString start=+\%(\w\)\@<!"""+ skip=+\\\\\|\\"+ end=+"""+
      \ contains=@flowfileStringContents,flowfileEscape
syn region flowfileTripleString start=+\%(\w\)\@<!'''+ skip=+\\\\\|\\'+ end=+'''+
      \ contains=@flowfileStringContents,flowfileEscape
syn region flowfileTripleString start=+\%(\w\)\@<![rR]"""+ skip=+\\\\\|\\"+ end=+"""+
      \ contains=@flowfileStringContents
syn region flowfileTripleString start=+\%(\w\)\@<![rR]'''+ skip=+\\\\\|\\'+ end=+'''+
      \ contains=@flowfileStringContents

hi def link flowfileComment      Comment
hi def link flowfileTodo         Todo
hi def link flowfileRuleKeyword  Keyword
hi def link flowfileRuleName     Function
hi def link flowfileRuleRef      Function
hi def link flowfileImportKeyword Include
hi def link flowfileImportedName Function
hi def link flowfileTopDirective PreProc
hi def link flowfileDirective    Statement
hi def link flowfileError        Error
hi def link flowfileConstant     Constant
hi def link flowfileKeyword      Keyword
hi def link flowfileBuiltin      Function
hi def link flowfileSpecialVar   Identifier
hi def link flowfileNumber       Number
hi def link flowfileOperator     Operator
hi def link flowfileAssignment   Identifier
hi def link flowfileString       String
hi def link flowfileRawString    String
hi def link flowfileTripleString String
hi def link flowfileEscape       SpecialChar
hi def link flowfilePlaceholder  Special
hi def link flowfileBraceEscape  SpecialChar

let b:current_syntax = "flowfile"

let &cpo = s:cpo_save
unlet s:cpo_save
