package slack

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Identifiers of the Home tab's own buttons. Its other buttons are
// ActionRun and ActionAsk buttons, handled as on any message.
const (
	// CallbackHome is the callback_id of the Home tab view.
	CallbackHome = "idp_home"
	// ActionHomeCreate is the action_id of a catalog entry's Create
	// button; its value is the service, whose form it opens as /idp create
	// <service> does.
	ActionHomeCreate = "idp_home_create"
	// ActionHomePage is the action_id of the Previous and More buttons;
	// the value is the page they show.
	ActionHomePage = "idp_home_page"
)

// Defaults of the Home tab.
const (
	// DefaultHomeRefresh is how long a change of someone's resources
	// waits before their Home tab is published again, so that a burst of
	// events publishes once.
	DefaultHomeRefresh = 3 * time.Second
	// maxHomeBlocks is Slack's limit of blocks in a Home tab view.
	maxHomeBlocks = 100
	// homeNavBlocks are kept free on every page for the navigation: a
	// divider, a context line and the Previous / More buttons.
	homeNavBlocks = 3
)

// HomeOpeners remembers who opened the Home tab, so that a change of their
// resources publishes it again for them alone; people who never opened it
// cost no API calls.
type HomeOpeners interface {
	// OpenedHome records that user opened their Home tab.
	OpenedHome(ctx context.Context, user string) error
	// HasOpenedHome reports whether user opened their Home tab before.
	HasOpenedHome(ctx context.Context, user string) (bool, error)
}

// memoryOpeners is the HomeOpeners of one process: enough for a single
// replica; with several, a change delivered by a replica that did not see
// the opening leaves the Home tab as it was until the person opens it
// again, which publishes it afresh.
type memoryOpeners struct {
	mu    sync.Mutex
	users map[string]bool
}

var _ HomeOpeners = (*memoryOpeners)(nil)

func (m *memoryOpeners) OpenedHome(_ context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users == nil {
		m.users = map[string]bool{}
	}
	m.users[user] = true
	return nil
}

func (m *memoryOpeners) HasOpenedHome(_ context.Context, user string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.users[user], nil
}

// homeUnit is blocks that stay together on one page: an item and its
// buttons, or a heading.
type homeUnit struct {
	section string
	heading bool
	blocks  []slackapi.Block
}

// HomeView renders page (from 0) of h as a Home tab view of at most 100
// blocks; pages is how many there are. A page that starts inside a part
// repeats the part's heading, and every page but a single one ends with
// Previous / More buttons.
func HomeView(h *commands.Home, page int) (view slackapi.HomeTabViewRequest, pages int) {
	units := homeUnits(h)
	var split [][]homeUnit
	var cur []homeUnit
	used := 0
	for _, u := range units {
		need := len(u.blocks)
		if !u.heading && len(cur) == 0 {
			need++ // the repeated heading
		}
		if used+need > maxHomeBlocks-homeNavBlocks && len(cur) > 0 {
			split = append(split, cur)
			cur, used = nil, 0
			need = len(u.blocks)
			if !u.heading {
				need++
			}
		}
		if u.heading && used+len(u.blocks)+1 > maxHomeBlocks-homeNavBlocks && len(cur) > 0 {
			// A heading at the very end of a page goes to the next one.
			split = append(split, cur)
			cur, used = nil, 0
		}
		cur = append(cur, u)
		used += need
	}
	if len(cur) > 0 {
		split = append(split, cur)
	}
	pages = max(len(split), 1)
	page = min(max(page, 0), pages-1)
	var blocks []slackapi.Block
	if len(split) > 0 {
		for i, u := range split[page] {
			if i == 0 && !u.heading {
				blocks = append(blocks, slackapi.NewHeaderBlock(plain(u.section+" (continued)", maxHeader)))
			}
			blocks = append(blocks, u.blocks...)
		}
	}
	if pages > 1 {
		var nav []slackapi.BlockElement
		if page > 0 {
			nav = append(nav, slackapi.NewButtonBlockElement(ActionHomePage+"_prev", strconv.Itoa(page-1), plain("Previous", maxButtonText)))
		}
		if page < pages-1 {
			nav = append(nav, slackapi.NewButtonBlockElement(ActionHomePage+"_next", strconv.Itoa(page+1), plain("More", maxButtonText)))
		}
		blocks = append(blocks,
			slackapi.NewDividerBlock(),
			slackapi.NewContextBlock("home_page", mrkdwn(fmt.Sprintf("Page %d of %d", page+1, pages), maxSectionText)),
			slackapi.NewActionBlock("home_nav", nav...))
	}
	return slackapi.HomeTabViewRequest{
		Type:            slackapi.VTHomeTab,
		Blocks:          slackapi.Blocks{BlockSet: blocks},
		CallbackID:      CallbackHome,
		PrivateMetadata: strconv.Itoa(page),
	}, pages
}

// homeUnits lays h out: a heading per part, then a unit per item.
func homeUnits(h *commands.Home) []homeUnit {
	var out []homeUnit
	heading := func(title, intro string) {
		u := homeUnit{section: title, heading: true, blocks: []slackapi.Block{slackapi.NewHeaderBlock(plain(title, maxHeader))}}
		if intro != "" {
			u.blocks = append(u.blocks, slackapi.NewContextBlock("", mrkdwn(escape(intro), maxSectionText)))
		}
		out = append(out, u)
	}
	items := func(section, prefix string, list []commands.HomeItem) {
		for i, it := range list {
			id := prefix + strconv.Itoa(i)
			if it.Resource != nil {
				id = prefix + strconv.FormatInt(it.Resource.ID, 10)
			}
			out = append(out, homeUnit{section: section, blocks: homeItemBlocks(id, it)})
		}
	}
	heading("Your resources", "The active resources of your teams. Buttons run the command as you; answers come in your messages with the app.")
	if len(h.Resources) == 0 {
		out = append(out, homeUnit{section: "Your resources", blocks: []slackapi.Block{
			slackapi.NewSectionBlock(mrkdwn("None yet: request one with a Create button below or `/idp create`.", maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("res_none"))}})
	}
	items("Your resources", "res_", h.Resources)
	if h.Approver {
		heading("Waiting for your approval", "Oldest first; requests you made or approved already are not here.")
		if len(h.Approvals) == 0 {
			out = append(out, homeUnit{section: "Waiting for your approval", blocks: []slackapi.Block{
				slackapi.NewSectionBlock(mrkdwn("Nothing waits for your approval.", maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("appr_none"))}})
		}
		items("Waiting for your approval", "appr_", h.Approvals)
	}
	heading("Catalog", "What you can request.")
	items("Catalog", "svc_", h.Services)
	if h.Survey != nil {
		heading("Survey", "")
		items("Survey", "survey_", []commands.HomeItem{*h.Survey})
	}
	for i, n := range h.Notes {
		out = append(out, homeUnit{section: "Notes", blocks: []slackapi.Block{
			slackapi.NewContextBlock("note_"+strconv.Itoa(i), mrkdwn(escape(n), maxSectionText))}})
	}
	return out
}

// homeItemBlocks renders one item: a section with its title and line,
// and an actions block with its buttons (Create included). Block ids start
// with id, which is unique in the view.
func homeItemBlocks(id string, it commands.HomeItem) []slackapi.Block {
	text := "*" + escape(it.Title) + "*"
	if it.Text != "" {
		text += "\n" + escape(it.Text)
	}
	blocks := []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(text, maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID(id))}
	var buttons []slackapi.BlockElement
	for _, act := range it.Actions {
		kind, value, err := actionValue(act)
		if err != nil || len(buttons) == maxActionsElements {
			continue
		}
		buttons = append(buttons, actionButton(kind, len(buttons), value, act))
	}
	if it.Create != "" && len(buttons) < maxActionsElements {
		buttons = append(buttons, slackapi.NewButtonBlockElement(ActionHomeCreate, it.Create, plain("Create", maxButtonText)).WithStyle(slackapi.StylePrimary))
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slackapi.NewActionBlock(id+"_actions", buttons...))
	}
	return blocks
}

// publishHome builds user's home and publishes page of it to their Home
// tab.
func (a *Adapter) publishHome(ctx context.Context, user string, page int) error {
	router := a.router.Load()
	if router == nil {
		return nil
	}
	actor := a.who.actor(ctx, user, "")
	h, err := router.Home(ctx, commands.Request{Actor: actor, Platform: Platform})
	if err != nil {
		return err
	}
	view, _ := HomeView(h, page)
	if _, err := a.api.PublishViewContext(ctx, slackapi.PublishViewContextRequest{UserID: user, View: view}); err != nil {
		return a.apiErr("views.publish", err)
	}
	return nil
}

// homeOpened answers app_home_opened: it remembers that user opened the
// Home tab and publishes its first page.
func (a *Adapter) homeOpened(ctx context.Context, user string) {
	if err := a.openers.OpenedHome(ctx, user); err != nil {
		a.log.WarnContext(ctx, "remember who opened the home tab", "user", user, "err", err)
	}
	if err := a.publishHome(ctx, user, 0); err != nil {
		a.log.ErrorContext(ctx, "publish the home tab", "user", user, "err", err)
	}
}

// homeAction handles the Home tab's own buttons: a page, or Create.
func (a *Adapter) homeAction(ctx context.Context, cb slackapi.InteractionCallback, act slackapi.BlockAction) {
	switch {
	case act.ActionID == ActionHomeCreate:
		v := a.serviceView(ctx, cb.User, act.Value, "")
		if err := a.openView(ctx, cb.TriggerID, v); err != nil {
			if m := a.viewFailed(ctx, err); m != nil {
				a.tell(ctx, originOf(cb), cb.User.ID, *m)
			}
		}
	case strings.HasPrefix(act.ActionID, ActionHomePage):
		page, err := strconv.Atoi(act.Value)
		if err != nil {
			a.log.WarnContext(ctx, "home page button with a malformed value", "user", cb.User.ID, "value", clip(act.Value, 20))
			page = 0
		}
		if err := a.publishHome(ctx, cb.User.ID, page); err != nil {
			a.log.ErrorContext(ctx, "publish the home tab", "user", cb.User.ID, "err", err)
		}
	}
}

// homeClicked publishes the Home tab again after one of its buttons ran a
// command (an approval leaves the queue, a deletion starts), on the page
// the person was on.
func (a *Adapter) homeClicked(ctx context.Context, cb slackapi.InteractionCallback) {
	if cb.View.Type != slackapi.VTHomeTab {
		return
	}
	page, _ := strconv.Atoi(cb.View.PrivateMetadata)
	if err := a.publishHome(ctx, cb.User.ID, page); err != nil {
		a.log.ErrorContext(ctx, "publish the home tab", "user", cb.User.ID, "err", err)
	}
}

// homeChanged is told that r changed (ev is being delivered): the Home
// tab of its requester, and, when ev is about a request awaiting approval,
// those of the approvers and admins known by Slack id, is published again
// for each of them who opened it before, once the burst of events settles
// (after the refresh delay; events in between fold into that one publish).
func (a *Adapter) homeChanged(ctx context.Context, r *platform.Resource, ev platform.Event) {
	if r == nil {
		return
	}
	var users []string
	if r.Requester.Platform() == Platform {
		users = append(users, strings.TrimPrefix(r.Requester.ID, Platform+":"))
	}
	if r.State == platform.AwaitingApproval || ev.From == platform.AwaitingApproval || ev.To == platform.AwaitingApproval {
		org := a.engine.Org()
		for _, id := range append(append([]string(nil), org.Approvers...), org.Admins...) {
			if u, ok := strings.CutPrefix(id, Platform+":"); ok && u != "" {
				users = append(users, u)
			}
		}
	}
	for _, u := range users {
		a.homeLater(ctx, u)
	}
}

// homeLater publishes user's Home tab again after the refresh delay, if
// they opened it before, unless a publish for them is already waiting.
func (a *Adapter) homeLater(ctx context.Context, user string) {
	a.homeMu.Lock()
	if a.homePending[user] {
		a.homeMu.Unlock()
		return
	}
	a.homePending[user] = true
	a.homeMu.Unlock()
	a.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slowWork)
		defer cancel()
		<-a.homeAfter(a.homeRefresh)
		a.homeMu.Lock()
		delete(a.homePending, user)
		a.homeMu.Unlock()
		opened, err := a.openers.HasOpenedHome(ctx, user)
		if err != nil {
			a.log.WarnContext(ctx, "who opened the home tab", "user", user, "err", err)
			return
		}
		if !opened {
			return
		}
		if err := a.publishHome(ctx, user, 0); err != nil {
			a.log.ErrorContext(ctx, "publish the home tab again", "user", user, "err", err)
		}
	})
}
