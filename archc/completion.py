"""`archc completion bash|zsh|fish`: a shell completion script, generated from the argument parser.

The parser is the one source: a new command or option completes as soon as it exists. Each
script completes the commands, each command's options, an option's choices (`--target torch`),
file names where an option takes a path (`-o`), `.arch` files and directories for specs, and
nothing where a value is the user's to type (`--network`, `--input`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

SHELLS = ("bash", "zsh", "fish")
PATH_METAVARS = frozenset({"FILE", "DIR", "PATH"})
CONTINUED = " \\"  # a shell line that goes on


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    takes: str  # "" (a flag), "words" (its choices), "files" (a path) or "value" (anything)
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    positional: str  # "", "words" or "specs"
    words: tuple[str, ...] = ()
    many: bool = False


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    top = _options(parser)
    commands = _commands(parser)
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](top, commands)


# -- the parser as data -----------------------------------------------------------------------------
def _options(parser: argparse.ArgumentParser) -> tuple[Option, ...]:
    out = []
    for action in parser._actions:
        if not action.option_strings:
            continue
        words = tuple(str(c) for c in action.choices or ())
        if action.nargs == 0:
            takes = ""
        elif words:
            takes = "words"
        else:
            takes = "files" if action.metavar in PATH_METAVARS else "value"
        out.append(Option(tuple(action.option_strings), _one_line(action.help), takes, words))
    return tuple(out)


def _commands(parser: argparse.ArgumentParser) -> tuple[Command, ...]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {c.dest: _one_line(c.help) for c in sub._choices_actions}
    out = []
    for name, command in sub.choices.items():
        positional = [a for a in command._actions if not a.option_strings]
        words = tuple(str(c) for c in positional[0].choices or ()) if positional else ()
        kind = "" if not positional else ("words" if words else "specs")
        many = bool(positional) and positional[0].nargs in ("+", "*")
        out.append(Command(name, helps.get(name, ""), _options(command), kind, words, many))
    return tuple(out)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").replace("%%", "%").split())


# -- bash -------------------------------------------------------------------------------------------
def _bash(top: tuple[Option, ...], commands: tuple[Command, ...]) -> str:
    lines = [
        "# bash completion for archc, generated from its argument parser by `archc completion bash`",
        "# install: archc completion bash > ~/.local/share/bash-completion/completions/archc",
        "_archc() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" command="" options="" words="" specs="" i',
        '    if [[ "$cur" == "=" ]]; then cur=""; elif [[ "$prev" == "=" ]]; then prev="${COMP_WORDS[COMP_CWORD-2]}"; fi',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in',
        "            -*) ;;",
        '            *) command="${COMP_WORDS[i]}"; break ;;',
        "        esac",
        "    done",
        '    case "$command" in',
        f'        "") options="{_flags(top)}"; words="{" ".join(c.name for c in commands)}" ;;',
    ]
    for command in commands:
        lines.append(f'        {command.name}) options="{_flags(command.options)}"')
        values = [o for o in command.options if o.takes]
        if values:
            lines.append('            case "$prev" in')
            for option in values:
                lines.append(f"                {'|'.join(option.flags)}) {_bash_value(option)}; return ;;")
            lines.append("            esac")
        if command.positional == "words":
            lines.append(f'            words="{" ".join(command.words)}"')
        elif command.positional == "specs":
            lines.append("            specs=1")
        lines.append("            ;;")
    lines += [
        "    esac",
        '    if [[ "$cur" == -* ]]; then',
        '        COMPREPLY=($(compgen -W "$options" -- "$cur"))',
        '    elif [[ -n "$specs" ]]; then',
        '        COMPREPLY=($(compgen -f -X \'!*.arch\' -- "$cur") $(compgen -d -- "$cur"))',
        "    else",
        '        COMPREPLY=($(compgen -W "$words" -- "$cur"))',
        "    fi",
        "}",
        "complete -o filenames -F _archc archc",
    ]
    return "\n".join(lines) + "\n"


def _flags(options: tuple[Option, ...]) -> str:
    return " ".join(flag for option in options for flag in option.flags)


def _bash_value(option: Option) -> str:
    if option.takes == "words":
        return f'COMPREPLY=($(compgen -W "{" ".join(option.words)}" -- "$cur"))'
    if option.takes == "files":
        return 'COMPREPLY=($(compgen -f -- "$cur"))'
    return "COMPREPLY=()"


# -- zsh --------------------------------------------------------------------------------------------
def _zsh(top: tuple[Option, ...], commands: tuple[Command, ...]) -> str:
    lines = [
        "#compdef archc",
        "# zsh completion for archc, generated from its argument parser by `archc completion zsh`",
        '# install: archc completion zsh > "${fpath[1]}/_archc" (or source it after compinit)',
        "",
        "_archc() {",
        '    local curcontext="$curcontext" state line',
        "    typeset -A opt_args",
        "    _arguments -C \\",
        *[f"        {spec} \\" for option in top for spec in _zsh_option(option)],
        "        '1:command:->command' \\",
        "        '*::argument:->argument'",
        "    case $state in",
        "        command)",
        "            local -a commands",
        "            commands=(",
        *[f"                {_zsh_quote(c.name + ':' + c.help)}" for c in commands],
        "            )",
        "            _describe -t commands 'archc command' commands",
        "            ;;",
        "        argument)",
        '            curcontext="${curcontext%:*:*}:archc-$words[1]:"',
        "            case $words[1] in",
    ]
    for command in commands:
        specs = [spec for option in command.options for spec in _zsh_option(option)]
        if command.positional:
            action = f"({' '.join(command.words)})" if command.positional == "words" else '_files -g "*.arch"'
            what = "spec" if command.positional == "specs" else command.name
            specs.append(_zsh_quote(f"{'*' if command.many else '1'}:{what}:{action}"))
        lines.append(f"                {command.name})")
        lines.append("                    _arguments \\" if specs else "                    _message 'no arguments'")
        lines += [f"                        {spec}" + CONTINUED * (k < len(specs) - 1) for k, spec in enumerate(specs)]
        lines.append("                    ;;")
    lines += [
        "            esac",
        "            ;;",
        "    esac",
        "}",
        "",
        'if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then',
        '    _archc "$@"',
        "else",
        "    compdef _archc archc",
        "fi",
    ]
    return "\n".join(lines) + "\n"


def _zsh_option(option: Option) -> list[str]:
    text = option.help.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")
    if option.takes == "words":
        value = f":{option.flags[-1].lstrip('-')}:({' '.join(option.words)})"
    elif option.takes == "files":
        value = ":file:_files"
    elif option.takes == "value":
        value = f":{option.flags[-1].lstrip('-')}: "
    else:
        value = ""
    out = []
    for flag in option.flags:
        glue = "" if not option.takes else ("=" if flag.startswith("--") else "+")
        out.append(_zsh_quote(f"{flag}{glue}[{text}]{value}"))
    return out


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# -- fish -------------------------------------------------------------------------------------------
def _fish(top: tuple[Option, ...], commands: tuple[Command, ...]) -> str:
    lines = [
        "# fish completion for archc, generated from its argument parser by `archc completion fish`",
        "# install: archc completion fish > ~/.config/fish/completions/archc.fish",
        "complete -c archc -f",
    ]
    lines += [f"complete -c archc -n __fish_use_subcommand{_fish_option(o)}" for o in top]
    lines += [f"complete -c archc -n __fish_use_subcommand -a {c.name} -d {_fish_quote(c.help)}" for c in commands]
    for command in commands:
        when = f"-n {_fish_quote('__fish_seen_subcommand_from ' + command.name)}"
        lines += [f"complete -c archc {when}{_fish_option(o)}" for o in command.options]
        if command.positional == "words":
            lines.append(f"complete -c archc {when} -a {_fish_quote(' '.join(command.words))}")
        elif command.positional == "specs":
            lines.append(f"complete -c archc {when} -k -a '(__fish_complete_suffix .arch)'")
    return "\n".join(lines) + "\n"


def _fish_option(option: Option) -> str:
    out = ""
    for flag in option.flags:
        out += f" -l {flag[2:]}" if flag.startswith("--") else f" -s {flag[1:]}"
    if option.takes == "words":
        out += f" -x -a {_fish_quote(' '.join(option.words))}"
    elif option.takes == "files":
        out += " -r -F"
    elif option.takes == "value":
        out += " -x"
    return out + f" -d {_fish_quote(option.help)}"


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
