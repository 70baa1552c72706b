package discord

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/commands"
)

// Custom id prefixes of the buttons and modals that run a Reply's Actions.
// The command itself follows the prefix, so that any replica can run a
// click without remembering anything about the message.
const (
	// idRun is a button that runs the command after it.
	idRun = "idp:run:"
	// idAsk is a button that first asks for one line of text: the byte
	// length of the input's label, ":", the label, then the command.
	idAsk = "idp:ask:"
	// idWith is the modal an idAsk button opens; the command follows, and
	// its text input is actionInput.
	idWith = "idp:with:"
	// actionInput is the custom id of the text input of an idWith modal.
	actionInput = "input"
)

// Limits of the buttons rendered for Actions.
const (
	// maxRows is how many rows of components a message holds.
	maxRows = 5
	// maxActionInput is the longest text an Input action accepts.
	maxActionInput = 500
)

// actionRows renders actions as rows of buttons (at most five per row, and
// at most rows rows), styled primary, danger or secondary; an action
// offered twice is one button. An action that
// cannot be a button (its command does not fit in a custom id, or there is
// no room left) is returned as a note telling how to run it as text, with
// the reason in problems, for the operator's log.
func actionRows(actions []commands.Action, rows int) (out []discordgo.MessageComponent, notes []string, problems []error) {
	var buttons []discordgo.MessageComponent
	seen := map[string]bool{}
	for _, act := range actions {
		b, err := actionButton(act)
		switch {
		case err != nil:
		case seen[b.CustomID]:
			// Offered twice (by two sources of actions): one button
			// does.
			continue
		case len(buttons) >= rows*maxRowComponents:
			err = fmt.Errorf("action %q: no room for more buttons (%d rows of %d)", act.Label, max(rows, 0), maxRowComponents)
		}
		if err != nil {
			problems = append(problems, err)
			if strings.TrimSpace(act.Command) != "" {
				notes = append(notes, actionNote(act))
			}
			continue
		}
		seen[b.CustomID] = true
		buttons = append(buttons, b)
	}
	for len(buttons) > 0 {
		n := min(len(buttons), maxRowComponents)
		out = append(out, discordgo.ActionsRow{Components: buttons[:n:n]})
		buttons = buttons[n:]
	}
	return out, notes, problems
}

// actionButton renders one action as a button whose custom id carries its
// command (and its input's label), or says why it cannot.
func actionButton(act commands.Action) (discordgo.Button, error) {
	cmd := strings.TrimSpace(act.Command)
	if cmd == "" || strings.ContainsAny(cmd, "\n\r") || !utf8.ValidString(cmd) {
		return discordgo.Button{}, fmt.Errorf("action %q: command %q cannot be a button", act.Label, act.Command)
	}
	id := idRun + cmd
	if act.Input != "" {
		label := clip(strings.TrimSpace(act.Input), maxInputLabel)
		if label == "" {
			label = "Text"
		}
		id = idAsk + strconv.Itoa(len(label)) + ":" + label + cmd
		if n := utf8.RuneCountInString(idWith + cmd); n > maxCustomID {
			return discordgo.Button{}, fmt.Errorf("action %q: command %q is too long for a Discord modal id (%d > %d characters)", act.Label, cmd, n, maxCustomID)
		}
	}
	if n := utf8.RuneCountInString(id); n > maxCustomID {
		return discordgo.Button{}, fmt.Errorf("action %q: command %q is too long for a Discord button id (%d > %d characters)", act.Label, cmd, n, maxCustomID)
	}
	label := strings.TrimSpace(act.Label)
	if label == "" {
		label = cmd
	}
	style := discordgo.SecondaryButton
	switch act.Style {
	case "primary":
		style = discordgo.PrimaryButton
	case "danger":
		style = discordgo.DangerButton
	}
	return discordgo.Button{Label: clip(label, maxButtonLabel), Style: style, CustomID: id}, nil
}

// actionNote tells how to run an action that is not a button: its label
// and the command to type.
func actionNote(act commands.Action) string {
	cmd := strings.TrimSpace(act.Command)
	if act.Input != "" {
		cmd += " <" + strings.ToLower(strings.TrimSpace(act.Input)) + ">"
	}
	cmd = strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(clip(cmd, 300))
	label := strings.TrimSpace(act.Label)
	if label == "" {
		return "• `/idp run text:" + cmd + "`"
	}
	return "• " + clipEscaped(label, maxButtonLabel) + ": `/idp run text:" + cmd + "`"
}

// parseAsk splits the rest of an idAsk custom id into the input's label
// and the command.
func parseAsk(rest string) (label, command string, ok bool) {
	n, tail, found := strings.Cut(rest, ":")
	size, err := strconv.Atoi(n)
	if !found || err != nil || size <= 0 || size > len(tail) {
		return "", "", false
	}
	label, command = tail[:size], strings.TrimSpace(tail[size:])
	if command == "" || !utf8.ValidString(label) {
		return "", "", false
	}
	return label, command, true
}

// actionModal is the modal an Input action opens: one required text input
// of at most maxActionInput characters, labelled with the action's Input;
// its submission runs the command with the text.
func actionModal(label, command string) *discordgo.InteractionResponse {
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseModal, Data: &discordgo.InteractionResponseData{
		CustomID: idWith + command,
		Title:    clip("/idp "+command, maxModalTitle),
		Components: []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
			discordgo.TextInput{CustomID: actionInput, Label: clip(label, maxInputLabel), Style: discordgo.TextInputParagraph,
				Required: true, MinLength: 1, MaxLength: maxActionInput},
		}}},
	}}
}

// knownVerbs bounds the verb label of commands run by buttons.
var knownVerbs = []string{"help", "catalog", "create", "list", "status", "audit", "delete", "update", "retry", "credentials", "forget", "home", "approve", "reject", "extend", "nps", "survey", "support", "ticket"}

// actionVerb is the metrics label of a command run by a button: its verb
// when it is a known one, "action" otherwise.
func actionVerb(command string) string {
	f := strings.Fields(strings.ToLower(command))
	if len(f) > 0 {
		for _, v := range knownVerbs {
			if f[0] == v {
				return v
			}
		}
	}
	return "action"
}
